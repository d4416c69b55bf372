from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        # campaigns reacts to what lower layers announce (they never import campaigns).
        from campaigns import services
        from zalo_admin import hooks

        hooks.connect(hooks.OA_SENDS_STOPPED, services.pause_campaigns_of_stopped_oa)
        hooks.connect(hooks.TEMPLATE_UNSENDABLE, services.pause_campaigns_of_template)
        hooks.connect(hooks.GUARDRAIL_TRIPPED, services.pause_marketing_campaigns_for_guardrail)
