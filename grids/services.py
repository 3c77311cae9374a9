"""Writes for regions, departments and role assignments. Each function is the only place its change happens."""

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.authentication import password_mark, token_hash, token_ttl
from config.errors import InvalidInput

from . import geo
from .codes import code_problem
from .models import (
    COMMAND_LEVELS,
    LEVEL_ORDER,
    ApiToken,
    Department,
    GeoVersion,
    Level,
    Region,
    Role,
    RoleAssignment,
    User,
)
from .selectors import roles_forget


# --- Geometry version -------------------------------------------------------------------------------------------------
def geo_version_bump() -> None:
    """Mark boundaries as changed so every process rebuilds its locate index (a fresh random token, not a counter,
    so a rolled-back change can never leave a process believing a stale index is current)."""
    GeoVersion.objects.update_or_create(pk=1, defaults={"version": secrets.randbits(62)})
    from .selectors import grid_index_invalidate

    transaction.on_commit(grid_index_invalidate)
    grid_index_invalidate()


# --- Region import ----------------------------------------------------------------------------------------------------
class RegionImportError(InvalidInput):
    """The import was refused; ``problems`` lists every ``feature N: …`` message. Nothing was written."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n".join(problems[:50]) + (f"\n… and {len(problems) - 50} more" if len(problems) > 50 else "")
        super().__init__(f"import refused, nothing was written ({len(problems)} problem(s)):\n{shown}")


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int


@dataclass
class _Feature:
    index: int
    code: str
    name: str
    level: str
    parent_code: str | None
    boundary: dict


def _read_feature(index: int, feature, problems: list[str]) -> _Feature | None:
    where = f"feature {index}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(f"{where}: not a GeoJSON Feature")
        return None
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        problems.append(f"{where}: properties must be an object")
        return None
    values = {key: "" if props.get(key) is None else str(props[key]).strip() for key in ("code", "name", "level")}
    missing = [key for key, value in values.items() if not value]
    if missing:
        problems.append(f"{where}: missing properties: {', '.join(missing)}")
        return None
    code, name, level = values["code"], values["name"], values["level"]
    if level not in LEVEL_ORDER:
        problems.append(f"{where} ({code}): unknown level {level!r}; expected one of {', '.join(LEVEL_ORDER)}")
        return None
    if len(name) > 100:
        problems.append(f"{where} ({code}): name longer than 100 characters")
        return None
    try:
        geo.parse_boundary(feature.get("geometry"))
    except geo.GeometryError as exc:
        problems.append(f"{where} ({code}): {exc}")
        return None
    parent_code = props.get("parent_code")
    parent_code = str(parent_code).strip() if parent_code not in (None, "") else None
    return _Feature(index, code, name, level, parent_code, feature["geometry"])


def _regions_by_code(codes, chunk: int = 2000) -> list[Region]:
    """Stored regions with these codes, queried in chunks (SQLite builds limit the number of SQL variables)."""
    codes = sorted(codes)
    found = []
    for start in range(0, len(codes), chunk):
        found += Region.objects.filter(code__in=codes[start:start + chunk]).select_related("parent")
    return found


def regions_import(*, features: list) -> ImportSummary:
    """Create or update regions from GeoJSON features (properties: code, name, level, parent_code).

    All-or-nothing: every feature is checked first — geometry, level, code length and prefix, parent known (in this
    file or already stored) and one level up, no duplicate codes, no change of level or parent for an existing code —
    and one problem anywhere refuses the whole file. Existing codes get their name and boundary updated.
    """
    if not isinstance(features, list) or not features:
        raise RegionImportError(["the FeatureCollection has no features"])
    problems: list[str] = []
    items: list[_Feature] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(features):
        item = _read_feature(index, raw, problems)
        if item is None:
            continue
        if item.code in first_index:
            problems.append(f"feature {index} ({item.code}): duplicate code, already used by feature {first_index[item.code]}")
            continue
        first_index[item.code] = index
        items.append(item)

    in_file = {item.code: item for item in items}
    wanted = set(in_file) | {item.parent_code for item in items if item.parent_code}
    stored = {r.code: r for r in _regions_by_code(wanted)}
    for item in items:
        where = f"feature {item.index} ({item.code})"
        parent_lvl = None
        if item.parent_code:
            parent = in_file.get(item.parent_code) or stored.get(item.parent_code)
            if parent is None:
                problems.append(f"{where}: unknown parent_code {item.parent_code} (not in this file nor stored)")
                continue
            parent_lvl = parent.level
        problem = code_problem(item.level, item.code, parent_lvl, item.parent_code)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        existing = stored.get(item.code)
        if existing is not None:
            existing_parent = existing.parent.code if existing.parent else None
            if existing.level != item.level or existing_parent != item.parent_code:
                problems.append(
                    f"{where}: code already stored as a {existing.level} under {existing_parent}; "
                    "level and parent of an existing region cannot change"
                )
    if problems:
        raise RegionImportError(problems)

    created = updated = 0
    now = timezone.now()
    with transaction.atomic():
        ids = {code: region.id for code, region in stored.items()}
        for level in LEVEL_ORDER:  # parents before children
            batch = [item for item in items if item.level == level]
            new = [item for item in batch if item.code not in stored]
            changed = []
            for item in batch:
                if item.code in stored:
                    region = stored[item.code]
                    region.name, region.boundary, region.updated_at = item.name, item.boundary, now
                    changed.append(region)
            objs = Region.objects.bulk_create(
                [
                    Region(code=i.code, name=i.name, level=i.level, boundary=i.boundary,
                           parent_id=ids[i.parent_code] if i.parent_code else None)
                    for i in new
                ],
                batch_size=2000,
            )
            if objs and objs[0].pk is None:  # backends that do not return ids from bulk inserts
                ids.update({r.code: r.pk for r in _regions_by_code([i.code for i in new])})
            else:
                ids.update({obj.code: obj.pk for obj in objs})
            if changed:
                Region.objects.bulk_update(changed, ["name", "boundary", "updated_at"], batch_size=2000)
            created += len(new)
            updated += len(changed)
        geo_version_bump()
    return ImportSummary(created=created, updated=updated)


def region_feature(region: Region) -> dict:
    return {
        "type": "Feature",
        "properties": {
            "code": region.code,
            "name": region.name,
            "level": region.level,
            "parent_code": region.parent.code if region.parent_id else None,
        },
        "geometry": region.boundary,
    }


# --- Departments and roles ---------------------------------------------------------------------------------------------
@transaction.atomic
def department_create(*, code: str, name: str, type: str, region: Region, level: str | None = None) -> Department:
    """Create a department (处置单位). Its level is its jurisdiction's level, which must be a command level."""
    level = level or region.level
    if level not in COMMAND_LEVELS:
        raise InvalidInput(_("a department belongs to a city, district or street, not a %(level)s") % {"level": level},
                           field="level")
    if region.level != level:
        raise InvalidInput(
            _("a %(level)s-level department needs a %(level)s as jurisdiction, got %(got)s %(code)s")
            % {"level": level, "got": region.level, "code": region.code},
            field="region",
        )
    if Department.objects.filter(code=code).exists():
        raise InvalidInput(_("department code %(code)r is already used") % {"code": code}, field="code")
    department = Department(code=code, name=name, type=type, level=level, region=region)
    department.full_clean()
    department.save()
    return department


ROLE_SHAPES = {
    Role.GRID_WORKER: gettext_lazy("a unit grid"),
    Role.OPERATOR: gettext_lazy("a region"),
    Role.SUPERVISOR: gettext_lazy("a region"),
    Role.DISPATCHER: gettext_lazy("the region of a command center (city, district or street)"),
    Role.HANDLER: gettext_lazy("a department"),
    Role.ADMIN: gettext_lazy("nothing"),
}


@transaction.atomic
def role_assign(
    *, user: User, role: str, region: Region | None = None, department: Department | None = None
) -> RoleAssignment:
    """Give ``user`` a role with its scope; the shapes are in RoleAssignment's docstring. Idempotent."""
    if role not in Role.values:
        raise InvalidInput(_("unknown role %(role)r; expected one of %(choices)s")
                           % {"role": role, "choices": ", ".join(Role.values)}, field="role")
    needs_region = role in (Role.GRID_WORKER, Role.OPERATOR, Role.SUPERVISOR, Role.DISPATCHER)
    ok = (
        (needs_region and region is not None and department is None)
        or (role == Role.HANDLER and department is not None and region is None)
        or (role == Role.ADMIN and region is None and department is None)
    )
    if ok and role == Role.GRID_WORKER:
        ok = region.level == Level.GRID
    if ok and role == Role.DISPATCHER:
        ok = region.level in COMMAND_LEVELS
    if not ok:
        raise InvalidInput(_("a %(role)s is assigned to %(shape)s") % {"role": role, "shape": ROLE_SHAPES[role]},
                           field="region" if needs_region else "department")
    assignment, created = RoleAssignment.objects.get_or_create(user=user, role=role, region=region,
                                                               department=department)
    if created:
        roles_forget(user)
    return assignment


def role_revoke(*, assignment: RoleAssignment) -> None:
    assignment.delete()
    roles_forget(assignment.user)



# --- API tokens ----------------------------------------------------------------------------------------------------------
def api_token_issue(*, user: User, device: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user`` on ``device`` (one per device: signing in again on it replaces its token). Returns the
    row and the token itself, which is shown this once and stored only as its SHA-256."""
    device = (device or "").strip()[:100]
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        if device:
            ApiToken.objects.filter(user=user, device=device).delete()
        token = ApiToken.objects.create(key_hash=token_hash(raw), user=user, device=device,
                                        password_mark=password_mark(user.password), created_at=now,
                                        last_used_at=now, expires_at=now + token_ttl())
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    """Log the token out: it answers 401 from now on."""
    ApiToken.objects.filter(pk=token.pk).delete()
