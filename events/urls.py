from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("categories", api.CategoryViewSet, basename="category")

urlpatterns = router.urls
