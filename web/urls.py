from django.urls import path

from .views import auth, cockpit, placeholders

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
    path("field/", placeholders.field, name="field"),
    path("cockpit/", cockpit.cockpit, name="cockpit"),
    path("cockpit/big/", cockpit.big, name="cockpit_big"),
    path("cockpit/cases/", cockpit.cases, name="cockpit_cases"),
    path("cockpit/act/", cockpit.act, name="cockpit_act"),
    path("cockpit/blacklist/<int:pk>/rectify/", cockpit.rectify, name="cockpit_rectify"),
    path("cockpit/briefing/", cockpit.briefing, name="cockpit_briefing"),
    path("cockpit/briefing/pdf/", cockpit.briefing_pdf, name="cockpit_briefing_pdf"),
]
