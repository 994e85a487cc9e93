"""Forms of the reps pages; they only parse and validate, the services do the writes."""

import datetime as dt

from django import forms
from django.contrib.gis.geos import Point
from django.utils import timezone

from performance.models import Activity
from reps.models import Rep
from territories.models import Scenario


def _words(value: str) -> list[str]:
    return [word.strip() for word in (value or "").split(",") if word.strip()]


class RepForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    team = forms.ModelChoiceField(queryset=None, required=False)
    role = forms.ChoiceField(choices=Rep.Role.choices)
    home_city = forms.CharField(max_length=100, required=False)
    home_latitude = forms.FloatField(required=False, min_value=-90, max_value=90)
    home_longitude = forms.FloatField(required=False, min_value=-180, max_value=180)
    industries = forms.CharField(required=False, help_text="Comma separated, e.g. software, retail")
    products = forms.CharField(required=False, help_text="Comma separated")
    seniority = forms.TypedChoiceField(choices=Rep.Seniority.choices, coerce=int)
    capacity_hours = forms.FloatField(min_value=0, help_text="Yearly hours available for field work")
    is_active = forms.BooleanField(required=False, initial=True)
    start_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams

    @classmethod
    def initial_for(cls, rep: Rep) -> dict:
        return {
            "name": rep.name, "email": rep.email, "team": rep.team_id, "role": rep.role, "home_city": rep.home_city,
            "home_latitude": rep.home_location.y if rep.home_location else None,
            "home_longitude": rep.home_location.x if rep.home_location else None,
            "industries": ", ".join(rep.industries), "products": ", ".join(rep.products),
            "seniority": rep.seniority, "capacity_hours": rep.capacity_hours, "is_active": rep.is_active,
            "start_date": rep.start_date, "end_date": rep.end_date,
        }

    def clean(self):
        data = super().clean()
        latitude, longitude = data.get("home_latitude"), data.get("home_longitude")
        if (latitude is None) != (longitude is None):
            raise forms.ValidationError("Give both the latitude and the longitude of the home, or neither.")
        return data

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        latitude, longitude = data.pop("home_latitude"), data.pop("home_longitude")
        data["home_location"] = Point(longitude, latitude, srid=4326) if latitude is not None else None
        data["industries"] = _words(data["industries"])
        data["products"] = _words(data["products"])
        return data


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=Activity.Kind.choices, initial=Activity.Kind.VISIT)
    occurred_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                 format="%Y-%m-%dT%H:%M"),
                                      input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    duration_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=45)
    outcome = forms.CharField(max_length=200, required=False,
                              widget=forms.TextInput(attrs={"placeholder": "e.g. order placed, demo booked"}))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault(
            "occurred_at", timezone.localtime().replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M")
        )
        super().__init__(*args, **kwargs)


class MatchForm(forms.Form):
    scenario = forms.ModelChoiceField(queryset=Scenario.objects.exclude(status=Scenario.Status.ARCHIVED))
    travel = forms.FloatField(min_value=0, initial=0.5, label="Travel weight")
    expertise = forms.FloatField(min_value=0, initial=0.3, label="Expertise weight")
    value = forms.FloatField(min_value=0, initial=0.2, label="Value vs seniority weight")


class CallPlanForm(forms.Form):
    rep = forms.ModelChoiceField(queryset=None, required=False)
    week = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep"].queryset = reps

    def week_or_next(self) -> dt.date:
        return (self.cleaned_data.get("week") if self.is_valid() else None) or (
            timezone.localdate() + dt.timedelta(days=7)
        )
