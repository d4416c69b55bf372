from oas.views import accounts, keys, templates

app_name = "oas"
urlpatterns = accounts.urlpatterns + templates.urlpatterns + keys.urlpatterns
