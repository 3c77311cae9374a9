"""Homes whose pages come in later issues: a signed-in page that says so (never a dead link)."""
from django.shortcuts import render

from grids.models import Role

from ..access import role_required


@role_required(Role.SUPERVISOR)
def cockpit(request):
    return render(request, "web/placeholder.html", {"face": "cockpit"})
