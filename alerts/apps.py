from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        # alerts listens to what other apps announce (none of them imports alerts for it).
        from alerts import services
        from zalo_admin import hooks

        hooks.connect(hooks.QUALITY_ALERT_RAISED, services.on_quality_alert)
        hooks.connect(hooks.LEVEL_CHANGED, services.on_level_changed)
        hooks.connect(hooks.TEMPLATE_UNSENDABLE, services.on_template_unsendable)
        hooks.connect(hooks.OA_NEEDS_REAUTHORISATION, services.on_needs_reauthorisation)
        hooks.connect(hooks.CAMPAIGN_PAUSED, services.on_campaign_paused)
        hooks.connect(hooks.CAMPAIGN_FINISHED, services.on_campaign_finished)
