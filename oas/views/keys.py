"""RSA keys for encrypted template data: create new or get existing at the provider."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from oas.models import OfficialAccount
from oas.services import clients
from oas.services import keys as service
from oas.services.accounts import provider_error_text
from providers.base import ProviderError
from teams.scoping import get_visible_or_404
from zalo_admin.lib.rsa import MIN_KEY_BITS, REQUIRED_EXPONENT
from zalo_admin.roles import require_capability


def _key_action(request, oa_id, action):
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    try:
        outcome = action(actor=request.user, oa=oa)
    except ProviderError as exc:
        messages.error(request, _("The provider refused: %(error)s") % {"error": provider_error_text(exc)})
    except service.KeyTooWeak as exc:
        messages.error(
            request,
            _(
                "The provider's RSA key is too weak (%(bits)s bits, public exponent %(exponent)s): "
                "at least %(min_bits)s bits with public exponent %(required)s are required. "
                "Nothing was stored or activated."
            )
            % {
                "bits": exc.bits,
                "exponent": exc.exponent,
                "min_bits": MIN_KEY_BITS,
                "required": REQUIRED_EXPONENT,
            },
        )
    except service.KeyRejected as exc:
        messages.error(
            request,
            _("The provider's answer is not a usable RSA public key (%(why)s). Nothing was stored.")
            % {"why": exc},
        )
    else:
        if outcome.changed:
            messages.success(
                request,
                _("Key %(fingerprint)s is now active.") % {"fingerprint": outcome.key.fingerprint[:16]},
            )
        else:
            messages.info(
                request, _("The provider returned the key that is already active; nothing changed.")
            )
    return redirect("oas:detail", oa.pk)


@require_capability("manage_oas")
@require_POST
def create_key(request, oa_id):
    return _key_action(request, oa_id, clients.create_key_at_provider)


@require_capability("manage_oas")
@require_POST
def fetch_key(request, oa_id):
    return _key_action(request, oa_id, clients.fetch_key_from_provider)


urlpatterns = [
    path("<int:oa_id>/keys/create/", create_key, name="key_create"),
    path("<int:oa_id>/keys/fetch/", fetch_key, name="key_fetch"),
]
