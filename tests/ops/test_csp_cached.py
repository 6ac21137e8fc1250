"""The Content-Security-Policy header built once for plain responses is the header
django-csp builds, and a response with a policy of its own still gets its own."""

import pytest
from csp.constants import HEADER
from csp.decorators import csp_exempt, csp_update
from csp.middleware import CSPMiddleware as LibraryMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from loyalty.middleware import CSPMiddleware


def _header(middleware_class, view, *, nonce=False):
    request = RequestFactory().get("/x")
    middleware = middleware_class(lambda r: view(r))
    middleware.process_request(request)
    if nonce:
        str(request.csp_nonce)
    response = middleware.process_response(request, view(request))
    return response.get(HEADER), request


def _without_nonce(header):
    return header and " ".join(part for part in header.split() if "nonce-" not in part)


def plain(request):
    return HttpResponse("ok")


@csp_update({"img-src": ["https://cdn.example"]})
def updated(request):
    return HttpResponse("ok")


@csp_exempt()
def exempt(request):
    return HttpResponse("ok")


@pytest.mark.parametrize("view", [plain, updated, exempt])
@pytest.mark.parametrize("nonce", [False, True])
def test_the_header_is_the_one_django_csp_builds(view, nonce):
    ours, _ = _header(CSPMiddleware, view, nonce=nonce)
    theirs, _ = _header(LibraryMiddleware, view, nonce=nonce)

    if nonce:  # each request its own nonce: compare with the nonce taken out
        ours, theirs = (_without_nonce(ours), _without_nonce(theirs))
    assert ours == theirs
    assert (ours is None) == (view is exempt)


def test_a_changed_policy_is_not_served_from_the_kept_header(settings):
    before, _ = _header(CSPMiddleware, plain)
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}

    after, _ = _header(CSPMiddleware, plain)

    assert "default-src 'self'" in before
    assert after == "default-src 'none'"


def test_asking_for_a_nonce_after_the_header_is_written_is_an_error():
    from csp.exceptions import CSPNonceError

    _, request = _header(CSPMiddleware, plain)

    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
