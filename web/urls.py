from django.urls import path

from .views import auth, citizen, field, placeholders

app_name = "web"

urlpatterns = [
    path("", auth.landing, name="landing"),
    path("login/", auth.Login.as_view(), name="login"),
    path("logout/", auth.Logout.as_view(), name="logout"),
    path("password/", auth.PasswordChange.as_view(), name="password_change"),
    path("password/done/", auth.PasswordChangeDone.as_view(), name="password_change_done"),
    path("prefs/text-size/", auth.text_size, name="text_size"),
    path("console/", placeholders.console, name="console"),
    path("desk/", placeholders.desk, name="desk"),
    path("dept/", placeholders.dept, name="dept"),
    path("field/", field.field, name="field"),
    path("field/data.json", field.data, name="field_data"),
    path("field/photos/<int:pk>/", field.photo, name="field_photo"),
    path("field/sw.js", field.service_worker, name="field_sw"),
    path("field/manifest.webmanifest", field.manifest, name="field_manifest"),
    path("cockpit/", placeholders.cockpit, name="cockpit"),
    path("c/", citizen.home, name="citizen_home"),
    path("c/report/", citizen.report, name="citizen_report"),
    path("c/code/", citizen.code, name="citizen_code"),
    path("c/t/<str:token>/", citizen.follow, name="citizen_follow"),
    path("c/case/<str:number>/", citizen.case, name="citizen_case"),
    path("c/find/", citizen.find, name="citizen_find"),
    path("c/mine/", citizen.mine, name="citizen_mine"),
    path("c/elder/", citizen.elder, name="citizen_elder"),
    path("c/photos/<int:pk>/", citizen.photo, name="citizen_photo"),
]
