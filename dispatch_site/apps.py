from django.contrib.admin.apps import AdminConfig


class DispatchAdminConfig(AdminConfig):
    """django.contrib.admin with the product's site (dispatch_site.admin_site)."""

    default_site = "dispatch_site.admin_site.DispatchAdminSite"
