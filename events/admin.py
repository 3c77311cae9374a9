"""Admin: categories are editable; cases, reports, photos and the event log are read-only here (a case changes only
through events.services.case_act, and the event log is append-only)."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import (
    Attachment,
    Case,
    CaseEvent,
    CaseState,
    Category,
    CommandLevel,
    ContactView,
    InboundReport,
    Open311ApiKey,
    WeChatAccessToken,
    WeChatConversation,
    WeChatMessage,
    WeChatPhoto,
    event_words,
)
from .open311.services import open311_key_secret, open311_key_set_active


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "major_name", "minor_name", "default_urgency", "handling_limit", "limit_unit",
                    "department_type", "active", "manual_accept"]
    list_filter = ["kind", "active", "manual_accept", "default_urgency", "limit_unit", "department_type"]
    search_fields = ["code", "major_name", "minor_name"]
    readonly_fields = ["code", "kind", "major_code", "minor_code"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _choice_label(choices, value: str) -> str:
    return str(dict(choices.choices).get(value, value)) if value else "—"


class CaseEventInline(admin.TabularInline):
    """The timeline in the reader's language: event kinds in the timeline's words (``EventKind`` labels), states and
    command levels by their choice labels; the raw codes stay in the event log's own admin."""

    model = CaseEvent
    fields = ["seq", "kind_label", "actor", "actor_kind", "actor_role", "from_state_label", "to_state_label",
              "level_label", "occurred_at"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("kind"))
    def kind_label(self, event: CaseEvent) -> str:
        return event_words(event.kind)

    @admin.display(description=gettext_lazy("from state"))
    def from_state_label(self, event: CaseEvent) -> str:
        return _choice_label(CaseState, event.from_state)

    @admin.display(description=gettext_lazy("to state"))
    def to_state_label(self, event: CaseEvent) -> str:
        return _choice_label(CaseState, event.to_state)

    @admin.display(description=gettext_lazy("command level"))
    def level_label(self, event: CaseEvent) -> str:
        return _choice_label(CommandLevel, event.level)
    extra = 0
    can_delete = False
    ordering = ["seq"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "state", "close_reason", "level", "category", "department", "region_code", "channel",
                    "created_at"]
    list_filter = ["state", "level", "channel", "close_reason", "urgency"]
    search_fields = ["number", "region_code", "description"]
    raw_id_fields = ["category", "grid", "street", "district", "department", "merged_into", "reporter"]
    inlines = [CaseEventInline]


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["case", "seq", "kind", "actor", "actor_kind", "from_state", "to_state", "occurred_at"]
    list_filter = ["kind", "actor_kind"]
    search_fields = ["case__number"]


@admin.register(InboundReport)
class InboundReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "case", "reporter", "received_at"]
    list_filter = ["channel"]
    search_fields = ["case__number"]
    exclude = ["citizen_phone"]  # the phone is seen only through the logged contact view


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "kind", "content_type", "size", "uploaded_at"]
    list_filter = ["kind", "content_type"]


@admin.register(ContactView)
class ContactViewAdmin(ReadOnlyAdmin):
    list_display = ["case", "user", "role", "viewed_at"]
    search_fields = ["case__number", "user__username"]


@admin.register(Open311ApiKey)
class Open311ApiKeyAdmin(admin.ModelAdmin):
    """Open311 API keys. Adding one makes the key and shows it once, in the confirmation message (it is stored only
    as a hash); ``manage.py create_open311_key`` does the same from the shell. Keys are deactivated, not deleted."""

    list_display = ["name", "key_prefix", "active", "created_by", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "key_prefix"]
    filter_horizontal = ["services"]
    fields = ["name", "active", "services", "key_prefix", "created_by", "created_at"]
    readonly_fields = ["key_prefix", "created_by", "created_at"]
    actions = ["deactivate"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw, obj.key_prefix, obj.key_hash = open311_key_secret()
        obj.created_by, obj.created_at = request.user, timezone.now()
        super().save_model(request, obj, form, change)
        self.message_user(request, _("The API key for %(name)s is %(key)s. Copy it now: it is stored only as a hash "
                                     "and cannot be shown again.") % {"name": obj.name, "key": raw}, messages.WARNING)

    @admin.action(description=gettext_lazy("Deactivate the selected keys"))
    def deactivate(self, request, queryset):
        for key in queryset:
            open311_key_set_active(key=key, active=False)


# --- WeChat: what the official account received and replied, conversations in progress, photos to fetch ------------
@admin.register(WeChatMessage)
class WeChatMessageAdmin(ReadOnlyAdmin):
    """Every message and event as received, with the reply it got: where to look when a citizen says their report did
    not arrive (search by openid or case number)."""

    list_display = ["received_at", "openid", "msg_type", "case", "short_reply"]
    list_filter = ["msg_type"]
    search_fields = ["openid", "case__number", "dedupe_key"]
    raw_id_fields = ["case"]
    date_hierarchy = "received_at"

    @admin.display(description=gettext_lazy("reply"))
    def short_reply(self, message):
        return message.reply[:60]


@admin.register(WeChatConversation)
class WeChatConversationAdmin(ReadOnlyAdmin):
    list_display = ["openid", "step", "started_at", "updated_at", "expires_at"]
    list_filter = ["step"]
    search_fields = ["openid"]


@admin.register(WeChatPhoto)
class WeChatPhotoAdmin(ReadOnlyAdmin):
    """Photos fetched through the media API after the reply; failed ones say why (``last_error``)."""

    list_display = ["case", "media_id", "state", "attempts", "next_attempt_at", "attachment"]
    list_filter = ["state"]
    search_fields = ["case__number", "media_id"]
    readonly_fields = ["case", "media_id", "pic_url", "state", "attempts", "next_attempt_at", "last_error",
                       "attachment"]


@admin.register(WeChatAccessToken)
class WeChatAccessTokenAdmin(ReadOnlyAdmin):
    list_display = ["app_id", "fetched_at", "expires_at"]
    exclude = ["token"]  # a secret: never shown


from .sensors import admin as sensors_admin  # noqa: E402, F401  (registers the sensor models)
