"""Output serializers whose ``to_representation`` follows a plan made once per serializer instance.

DRF's ``Serializer.to_representation`` works out again, for every field of every object, how to read the attribute
(``fields.get_attribute`` walks ``source_attrs`` and runs ``inspect.signature`` on anything callable, e.g. each
``get_state_display``) and how to turn it into JSON (a chain of method calls per field; a ``DateTimeField`` reads
the active time zone through two thread-local lookups each time). On the case detail — about a hundred fields with
the timeline and clocks — that is 1–2 ms of CPU on every intake, action and detail response.

``PlannedOutput`` (a mixin for read-only ``serializers.Serializer`` classes) produces the same document: it keeps,
per field, a reader for the source and the field type's conversion, and hands anything it does not know — another
field class, an overridden ``to_representation``, a missing attribute — to DRF's own methods. The time zone is read
once per document. ``tests/config/test_representation.py`` compares the two on every case shape the API shows.
"""

import datetime
from collections.abc import Mapping

from django.core.exceptions import ObjectDoesNotExist
from django.db.models.manager import BaseManager
from django.utils import timezone
from rest_framework import fields, serializers
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

_MISSING = object()
_simple_callable: dict[tuple[type, str], bool] = {}  # (class, attribute) → DRF calls what the attribute gives
_is_mapping: dict[type, bool] = {}  # isinstance(…, Mapping) is an ABC check: slow on every attribute


def _read(instance, attrs):
    """``rest_framework.fields.get_attribute``, asking once per (class, attribute) whether to call the value."""
    for attr in attrs:
        owner = type(instance)
        mapping = _is_mapping.get(owner)
        if mapping is None:
            mapping = _is_mapping[owner] = isinstance(instance, Mapping)
        try:
            instance = instance[attr] if mapping else getattr(instance, attr)
        except ObjectDoesNotExist:
            return None
        except (KeyError, AttributeError):
            return _MISSING
        if callable(instance):
            key = (owner, attr)
            call = _simple_callable.get(key)
            if call is None:
                call = _simple_callable[key] = fields.is_simple_callable(instance)
            if call:
                instance = instance()
    return instance


def _same_method(field, base: type, name: str = "to_representation") -> bool:
    return getattr(type(field), name) is getattr(base, name)


def _conversion(field):
    """How the field turns a (non-None) value into JSON, or ``None`` to call its own ``to_representation``.

    The conversions return what DRF's returns for the same value: ``str``/``int``/``float``, a choice's value, JSON
    as is; date-times are done in ``PlannedOutput.to_representation`` (they need the time zone)."""
    if isinstance(field, serializers.SerializerMethodField):
        return None
    if isinstance(field, serializers.CharField) and _same_method(field, serializers.CharField):
        return str
    if _same_method(field, serializers.IntegerField) and isinstance(field, serializers.IntegerField):
        return int
    if _same_method(field, serializers.FloatField) and isinstance(field, serializers.FloatField):
        return float
    if isinstance(field, serializers.ChoiceField) and _same_method(field, serializers.ChoiceField):
        choices = field.choice_strings_to_values
        return lambda value: value if value == "" else choices.get(str(value), value)
    if isinstance(field, serializers.JSONField) and _same_method(field, serializers.JSONField) and not field.binary:
        return lambda value: value
    return None


class PlannedOutput:
    """Mixin for output serializers: ``to_representation`` from a per-instance plan (see the module docstring)."""

    def _plan(self):
        plan = []
        for field in self._readable_fields:
            if isinstance(field, serializers.SerializerMethodField):
                plan.append((field.field_name, field, "method", getattr(self, field.method_name)))
            elif field.source == "*":
                plan.append((field.field_name, field, "whole", field.to_representation))
            elif isinstance(field, serializers.ListSerializer) and isinstance(field.child, PlannedOutput):
                plan.append((field.field_name, field, "many", field.child.to_representation))
            elif (isinstance(field, serializers.DateTimeField) and _same_method(field, serializers.DateTimeField)
                  and _same_method(field, serializers.DateTimeField, "enforce_timezone")
                  and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == "iso-8601"):
                plan.append((field.field_name, field, "datetime", getattr(field, "timezone", _MISSING)))
            else:
                plan.append((field.field_name, field, "value", _conversion(field) or field.to_representation))
        self.__dict__["_output_plan"] = plan
        return plan

    def to_representation(self, instance):
        plan = self.__dict__.get("_output_plan") or self._plan()
        zone = _MISSING
        document = {}
        for name, field, how, step in plan:
            if how in ("method", "whole"):
                document[name] = step(instance)
                continue
            value = _read(instance, field.source_attrs)
            if value is _MISSING:  # DRF decides: a default, None, the field left out, or its error
                try:
                    value = field.get_attribute(instance)
                except fields.SkipField:
                    continue
            if value is None or (isinstance(value, PKOnlyObject) and value.pk is None):
                document[name] = None
            elif how == "value":
                document[name] = step(value)
            elif how == "many":
                items = value.all() if isinstance(value, BaseManager) else value
                document[name] = [step(item) for item in items]
            elif isinstance(value, datetime.datetime) and timezone.is_aware(value):  # how == "datetime"
                if step is not _MISSING:
                    target = step
                else:
                    if zone is _MISSING:
                        zone = field.default_timezone()
                    target = zone
                if target is None:
                    document[name] = field.to_representation(value)
                    continue
                text = value.astimezone(target).isoformat()
                document[name] = text[:-6] + "Z" if text.endswith("+00:00") else text
            else:
                document[name] = field.to_representation(value)
        return document

