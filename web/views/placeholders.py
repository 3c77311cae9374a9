"""Homes whose pages come in later issues: a signed-in page that says so (never a dead link)."""
from django.shortcuts import render

from grids.models import Role

from ..access import role_required


@role_required(Role.GRID_WORKER)
def field(request):
    return render(request, "web/placeholder.html", {"face": "field"})


@role_required(Role.DISPATCHER)
def console(request):
    return render(request, "web/placeholder.html", {"face": "console"})


@role_required(Role.OPERATOR)
def desk(request):
    return render(request, "web/placeholder.html", {"face": "desk"})


@role_required(Role.HANDLER)
def dept(request):
    return render(request, "web/placeholder.html", {"face": "dept"})
