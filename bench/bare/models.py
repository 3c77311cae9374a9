from django.db import models


class BareReport(models.Model):
    description = models.TextField()
    lat = models.FloatField()
    lng = models.FloatField()
    citizen_name = models.CharField(max_length=50, blank=True)
    citizen_phone = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.description[:30]
