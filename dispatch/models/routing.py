"""Routing rules: (category or major class) × region → department, the most specific rule winning."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from events.models import CategoryKind


class RoutingRule(models.Model):
    """Which department handles a kind of problem in an area (派遣规则).

    A rule names either one category or a whole major class (kind + 大类 code), and a region of any level. For a case,
    the matching rules are those whose region contains the case and whose category (or major class) is the case's;
    the most specific wins: the deepest region first, then an exact category over a major class, then the higher
    priority, then the older rule. With ``auto_dispatch`` the system dispatches on acceptance; otherwise the rule's
    department is suggested to the dispatcher. No rule: the street's own office takes it (属地兜底).
    """

    category = models.ForeignKey("events.Category", verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    major_kind = models.CharField(_("kind"), max_length=10, choices=CategoryKind.choices, blank=True)
    major_code = models.CharField(_("major class code"), max_length=2, blank=True)
    region = models.ForeignKey("grids.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("grids.Department", verbose_name=_("department"), on_delete=models.PROTECT,
                                   related_name="routing_rules")
    priority = models.IntegerField(_("priority"), default=0)
    auto_dispatch = models.BooleanField(_("dispatch automatically"), default=False)
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(category__isnull=False, major_code="")
                           | models.Q(category__isnull=True, major_kind__in=CategoryKind.values,
                                      major_code__regex=r"^[0-9]{2}$")),
                name="routing_rule_category_or_major",
            ),
        ]
        indexes = [models.Index(fields=["active", "category"]), models.Index(fields=["active", "major_kind", "major_code"])]

    def __str__(self):
        what = self.category.minor_name if self.category_id else f"{self.major_kind}:{self.major_code}"
        return f"#{self.pk} {what} @ {self.region_id} → {self.department}"
