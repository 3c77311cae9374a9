"""Categories of problems (部件 components / 事件 events, 大类/小类), per CJ/T 214 style codes."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from grids.models import DepartmentType


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("component")  # 部件
    EVENT = "event", _("event")  # 事件


class Urgency(models.TextChoices):
    NORMAL = "normal", _("normal")
    URGENT = "urgent", _("urgent")


class LimitUnit(models.TextChoices):
    URGENT_HOUR = "urgent_hour", _("urgent hours (wall clock)")  # 紧急工作时
    WORK_HOUR = "work_hour", _("working hours")  # 工作时
    WORK_DAY = "work_day", _("working days")  # 工作日
    NATURAL_DAY = "natural_day", _("calendar days")  # 自然日


KIND_LETTER = {CategoryKind.COMPONENT: "C", CategoryKind.EVENT: "E"}


class Category(models.Model):
    """A 小类 with its 大类, default urgency, handling limit and responsible department type.

    ``code`` is the kind letter + 大类 + 小类 (``C0101`` 上水井盖, ``E0101`` …), unique across both kinds. Categories
    are deactivated, never deleted while cases use them (cases refer to them with PROTECT).
    """

    code = models.CharField(_("code"), max_length=10, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=CategoryKind.choices)
    major_code = models.CharField(_("major class code"), max_length=2)
    major_name = models.CharField(_("major class"), max_length=50)
    minor_code = models.CharField(_("minor class code"), max_length=2)
    minor_name = models.CharField(_("minor class"), max_length=50)
    default_urgency = models.CharField(_("default urgency"), max_length=10, choices=Urgency.choices)
    handling_limit = models.PositiveIntegerField(_("handling limit"))
    limit_unit = models.CharField(_("limit unit"), max_length=12, choices=LimitUnit.choices)
    department_type = models.CharField(_("responsible department type"), max_length=20, choices=DepartmentType.choices)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "major_code", "minor_code"], name="unique_category_kind_codes"),
            models.CheckConstraint(condition=models.Q(handling_limit__gt=0), name="category_limit_positive"),
        ]

    def __str__(self):
        return f"{self.code} {self.major_name}/{self.minor_name}"
