from django.urls import path

from .views import auth, console, geo, placeholders

app_name = "web"

urlpatterns = [
    path("", auth.landing, name="landing"),
    path("login/", auth.Login.as_view(), name="login"),
    path("logout/", auth.Logout.as_view(), name="logout"),
    path("password/", auth.PasswordChange.as_view(), name="password_change"),
    path("password/done/", auth.PasswordChangeDone.as_view(), name="password_change_done"),
    path("prefs/text-size/", auth.text_size, name="text_size"),
    path("console/", console.page, name="console"),
    path("console/map/", console.map_data, name="console_map"),
    path("console/case/<str:number>/", console.detail, name="console_case"),
    path("console/case/<str:number>/act/<str:action>/", console.act, name="console_act"),
    path("console/case/<str:number>/contact/", console.contact, name="console_contact"),
    path("console/bulk/", console.bulk, name="console_bulk"),
    path("console/filters/", console.filter_save, name="console_filter_save"),
    path("console/filters/<int:pk>/delete/", console.filter_delete, name="console_filter_delete"),
    path("geo/boundaries/", geo.boundaries, name="geo_boundaries"),
    path("desk/", placeholders.desk, name="desk"),
    path("dept/", placeholders.dept, name="dept"),
    path("field/", placeholders.field, name="field"),
    path("cockpit/", placeholders.cockpit, name="cockpit"),
]
