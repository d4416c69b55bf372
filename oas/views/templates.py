"""Message templates: list, sync, detail and preview (filled in by the templates work)."""

urlpatterns = []
