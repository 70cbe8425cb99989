"""The demo world (development and tests; `seed_demo` refuses production): the seed document's
providers, regions, templates and policies with an administrator (`world`), a teacher (`teacher`)
and an API client acting for them (`client`). Each part only creates what is missing and never
changes what exists.
"""

from authoring.demo.client import DEMO_CLIENT_KEY, DEMO_CLIENT_NAME, demo_client_ensure
from authoring.demo.teacher import (
    DEMO_SCHOOL,
    DEMO_TEACHER_ID,
    DEMO_TEACHER_PASSWORD,
    DEMO_TEACHER_REGIONS,
    DEMO_TEACHER_USERNAME,
    demo_client_authorise,
    demo_teacher_load,
)
from authoring.demo.world import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, demo_world_load

__all__ = [
    "DEMO_ADMIN_PASSWORD",
    "DEMO_ADMIN_USERNAME",
    "DEMO_CLIENT_KEY",
    "DEMO_CLIENT_NAME",
    "DEMO_SCHOOL",
    "DEMO_TEACHER_ID",
    "DEMO_TEACHER_PASSWORD",
    "DEMO_TEACHER_REGIONS",
    "DEMO_TEACHER_USERNAME",
    "demo_client_authorise",
    "demo_client_ensure",
    "demo_teacher_load",
    "demo_world_load",
]
