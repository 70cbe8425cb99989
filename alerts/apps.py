from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts (webhooks)"

    def ready(self) -> None:
        from django.conf import settings

        from alerts import receivers
        from alerts.delivery import deliveries_send_due
        from common.background import job_register

        receivers.connect()
        job_register(name="alerts.deliver", run=deliveries_send_due, interval=settings.ALERT_DELIVERY_INTERVAL)
