from django.urls import path

from .views import auth, citizen, dept, desk, field, placeholders

app_name = "web"

urlpatterns = [
    path("", auth.landing, name="landing"),
    path("login/", auth.Login.as_view(), name="login"),
    path("logout/", auth.Logout.as_view(), name="logout"),
    path("password/", auth.PasswordChange.as_view(), name="password_change"),
    path("password/done/", auth.PasswordChangeDone.as_view(), name="password_change_done"),
    path("prefs/text-size/", auth.text_size, name="text_size"),
    path("console/", placeholders.console, name="console"),
    path("desk/", desk.desk, name="desk"),
    path("desk/places/", desk.places, name="desk_places"),
    path("desk/categories/", desk.categories, name="desk_categories"),
    path("desk/nearby/", desk.nearby, name="desk_nearby"),
    path("desk/caller/", desk.caller, name="desk_caller"),
    path("desk/boundaries/", desk.boundaries, name="desk_boundaries"),
    path("desk/case/<str:number>/", desk.case, name="desk_case"),
    path("desk/case/<str:number>/inquiry/", desk.inquiry, name="desk_inquiry"),
    path("desk/case/<str:number>/contact/", desk.contact, name="desk_contact"),
    path("dept/", dept.workbench, name="dept"),
    path("dept/case/<str:number>/", dept.case, name="dept_case"),
    path("dept/case/<str:number>/<str:action>/", dept.act, name="dept_act"),
    path("dept/orders/<int:order_id>/reply/", dept.reply, name="dept_reply"),
    path("dept/photos/<int:pk>/", dept.photo, name="dept_photo"),
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
