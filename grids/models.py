"""Regions, departments, staff users and their role assignments.

Codes follow Beijing DB11/T 2157-2023 (see shared/domain/REFERENCE.md §1): city and district 6 digits (GB/T 2260),
street +3, community +3, unit grid +3 = 15 digits. Because every code extends its parent's, a subtree is a code
prefix: ``Region.subtree_prefix`` is what scope queries filter on.
"""

import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    CITY = "city", _("city")
    DISTRICT = "district", _("district")
    STREET = "street", _("street")
    COMMUNITY = "community", _("community")
    GRID = "grid", _("unit grid")


LEVEL_ORDER = [Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.GRID]
# Levels at which a command center (指挥中心) sits and departments belong.
COMMAND_LEVELS = [Level.CITY, Level.DISTRICT, Level.STREET]


class Region(models.Model):
    """A node of the region tree: 市 / 区 / 街道 / 社区 / 单元网格."""

    code = models.CharField(_("code"), max_length=15, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    boundary = models.JSONField(_("boundary (GeoJSON, WGS84)"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "code"])]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def subtree_prefix(self) -> str:
        """The code prefix every region of this subtree starts with (a city's districts share its first 4 digits)."""
        return self.code[:4] if self.level == Level.CITY else self.code

    @property
    def depth(self) -> int:
        return LEVEL_ORDER.index(self.level)


class GeoVersion(models.Model):
    """One row whose counter goes up whenever boundaries change, so every process can rebuild its locate index."""

    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("geometry version")
        verbose_name_plural = _("geometry version")

    def __str__(self):
        return str(self.version)


class DepartmentType(models.TextChoices):
    """Kinds of responsible unit, as used in shared/domain/categories.csv. 街道 is the street office (属地兜底)."""

    STREET_OFFICE = "街道", _("street office")
    SANITATION = "环卫", _("sanitation")
    MUNICIPAL = "市政", _("municipal engineering")
    ENFORCEMENT = "城管执法", _("urban management enforcement")
    LANDSCAPING = "园林", _("landscaping")
    WATER = "水务", _("water")
    POWER = "电力", _("power")
    TELECOM = "通信", _("telecommunications")
    GAS = "燃气", _("gas")
    HEATING = "热力", _("heating")
    EMERGENCY = "应急", _("emergency management")
    POLICE = "公安", _("public security")
    TRAFFIC_POLICE = "交警", _("traffic police")
    TRANSPORT = "交通", _("transport")
    HOUSING = "住建", _("housing and construction")
    PLANNING = "规划", _("planning and land")
    ECOLOGY = "生态环境", _("ecology and environment")
    MARKET = "市场监管", _("market regulation")


class Department(models.Model):
    """A responsible unit (处置单位) at street, district or city level with a jurisdiction region."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(_("type"), max_length=20, choices=DepartmentType.choices, db_index=True)
    level = models.CharField(
        _("level"), max_length=10, choices=[(lv.value, lv.label) for lv in COMMAND_LEVELS], db_index=True
    )
    region = models.ForeignKey(
        Region, verbose_name=_("jurisdiction"), on_delete=models.PROTECT, related_name="departments"
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self):
        return self.name


def roles_version_start() -> int:
    return secrets.randbits(48)


class User(AbstractUser):
    """A staff account. Citizens are not users: they are known by a channel identity on their reports."""

    display_name = models.CharField(_("display name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # Moved on (by a random step) by database triggers whenever the user's role assignments, or the regions and
    # departments they name, change (migration grids 0002): the token or session read brings it along, so
    # grids.selectors.roles_of can keep a process-wide copy of the roles and know at no cost when it is stale.
    roles_version = models.BigIntegerField(_("roles version"), default=roles_version_start, editable=False)

    class Meta(AbstractUser.Meta):
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")

    def __str__(self):
        return self.display_name or self.username


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("grid worker")  # 网格员/监督员
    OPERATOR = "operator", _("hotline operator")  # 坐席
    DISPATCHER = "dispatcher", _("dispatcher")  # 受理员/派遣员/值班长
    HANDLER = "handler", _("department handler")  # 处置单位
    SUPERVISOR = "supervisor", _("supervisor")  # 督办/领导
    ADMIN = "admin", _("administrator")


class RoleAssignment(models.Model):
    """One role of one user with its scope.

    grid_worker → a unit grid (one row per grid patrolled); operator and supervisor → a region of any level;
    dispatcher → the region of a command center (street, district or city); handler → a department; admin → none.
    Rows are made by ``grids.services.role_assign``, which checks these shapes.
    """

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "region"], condition=models.Q(department__isnull=True),
                name="unique_role_region",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "department"], condition=models.Q(region__isnull=True),
                name="unique_role_department",
            ),
            models.UniqueConstraint(
                fields=["user", "role"], condition=models.Q(region__isnull=True, department__isnull=True),
                name="unique_role_global",
            ),
        ]
        indexes = [models.Index(fields=["role", "region"]), models.Index(fields=["role", "department"])]

    def __str__(self):
        scope = self.region or self.department or "*"
        return f"{self.user} · {self.get_role_display()} · {scope}"


class ApiToken(models.Model):
    """An API token of one user on one device (the field app on a phone, a script, an integration).

    Only the SHA-256 of the token is stored: the token itself is shown once, when it is issued. A token lives
    ``GRIDLOOP_API_TOKEN_TTL_HOURS`` after its last use (sliding) and dies with a logout, a revocation by its user or
    an administrator, the user's deactivation, or any change of the user's password (``password_mark``)."""

    key_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    device = models.CharField(_("device"), max_length=100, blank=True)
    password_mark = models.CharField(_("password mark"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"))
    last_used_at = models.DateTimeField(_("last used at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-last_used_at"]

    def __str__(self):
        return f"{self.user} · {self.device or '—'}"
