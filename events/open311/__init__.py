"""Open311 GeoReport v2 at ``/open311/v2/`` (http://wiki.open311.org/GeoReport_v2), a citizen channel over the same
case services as every other channel.

    discovery.{fmt}                  GET   the service discovery document
    services.{fmt}                   GET   the active categories as services (``group`` = 大类)
    services/{service_code}.{fmt}    GET   a service definition
    requests.{fmt}                   POST  file a service request (``api_key``; ``Idempotency-Key`` makes retries safe)
                                     GET   requests, filtered (service_request_id, service_code, start_date, end_date,
                                           status; default: the last 90 days) and paged (page, page_size), plus
                                           ``updated_after`` and ``extensions=true``
    requests/{service_request_id}.{fmt}  GET   one request
    tokens/{token}.{fmt}             GET   the service_request_id for a token (``GRIDLOOP_OPEN311_SERVICE_TYPE=batch``)
    servicerequestupdates.{fmt}      GET   mySociety's update feed, built from the case event log

``fmt`` is ``xml`` or ``json``. Errors are the spec's ``errors/error{code, description}`` with HTTP 404 for what does
not exist, 403 for a missing, unknown or deactivated api_key and 400 for everything else.

A service request becomes a case through ``events.services.case_report`` (channel ``open311``, a citizen actor known
by the hash of their phone or email); ``service_request_id`` is the case number. Reads publish only the cases of the
channels in ``GRIDLOOP_OPEN311_PUBLIC_CHANNELS`` (inside ``jurisdiction_id``, a region code, when given) and never a
citizen's contact details.

    views.py        thin: format, method, errors → selectors / services → serializers → renderers
    params.py       query parameters (W3C date-times, the 90-day window, lists, page/page_size)
    selectors.py    reads within the public scope
    services.py     API keys and POST requests
    serializers.py  our objects in the spec's shapes
    renderers.py    the XML and JSON bodies and the error format
    tokens.py       request tokens (signed, nothing stored)
"""
