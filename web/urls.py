from django.urls import path

from .views import auth, console, dept, desk, geo, placeholders

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
    path("field/", placeholders.field, name="field"),
    path("cockpit/", placeholders.cockpit, name="cockpit"),
]
