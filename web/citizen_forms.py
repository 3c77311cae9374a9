"""The citizen page's forms: a report, the SMS code, a look-up by case number + phone, and the rating."""

from django import forms
from django.utils.translation import gettext_lazy as _

from events.models import Category


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, category):
        return category.minor_name


def category_choices():
    """Categories in plain words, grouped by their major class."""
    groups: dict[str, list] = {}
    for category in Category.objects.filter(active=True).order_by("kind", "major_code", "minor_code"):
        groups.setdefault(category.major_name, []).append((category.code, category.minor_name))
    return [("", _("I don't know — let the staff decide")), *groups.items()]


class ReportForm(forms.Form):
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    address = forms.CharField(label=_("Where is it? (street, building, landmark)"), max_length=300, required=False)
    category = forms.ChoiceField(label=_("What kind of problem is it?"), required=False)
    description = forms.CharField(label=_("Describe the problem"), max_length=4000,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    photo = forms.ImageField(label=_("Photo (optional)"), required=False,
                             widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}))
    phone = forms.CharField(label=_("Your mobile number"), max_length=20,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}))
    code = forms.CharField(label=_("Code from the SMS"), max_length=6, required=False,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))
    form_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()

    def clean(self):
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None):
            self.add_error("address", _("The position was incomplete: use your location again or describe the "
                                        "place."))
        if data.get("lat") is None and not (data.get("address") or "").strip():
            self.add_error("address", _("Tell us where it is: use your location, or describe the place."))
        return data

    def clean_category(self):
        code = self.cleaned_data.get("category") or ""
        if not code:
            return None
        category = Category.objects.filter(code=code, active=True).first()
        if category is None:
            raise forms.ValidationError(_("Choose a kind of problem from the list."))
        return category


class PhoneForm(forms.Form):
    phone = forms.CharField(label=_("Your mobile number"), max_length=20,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}))
    code = forms.CharField(label=_("Code from the SMS"), max_length=6, required=False,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


class FindForm(forms.Form):
    number = forms.CharField(label=_("Case number"), max_length=20,
                             widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    phone = forms.CharField(label=_("The mobile number you reported with"), max_length=20,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}))


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you with the result?"), coerce=int, widget=forms.RadioSelect,
        choices=[(5, _("5 — very satisfied")), (4, _("4 — satisfied")), (3, _("3 — so-so")),
                 (2, _("2 — dissatisfied")), (1, _("1 — very dissatisfied"))])
    comment = forms.CharField(label=_("Anything to add? (optional)"), max_length=500, required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))
    form_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
