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
    path("console/", placeholders.console, name="console"),
    path("console/map/", console.map_data, name="console_map"),
    path("geo/boundaries/", geo.boundaries, name="geo_boundaries"),
    path("desk/", placeholders.desk, name="desk"),
    path("dept/", placeholders.dept, name="dept"),
    path("field/", placeholders.field, name="field"),
    path("cockpit/", placeholders.cockpit, name="cockpit"),
]
