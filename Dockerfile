FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_ENV=production BIND=0.0.0.0:8002
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --home /app dispatch && chown -R dispatch /app
USER dispatch
EXPOSE 8002
CMD ["bin/start"]
