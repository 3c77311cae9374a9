"""Read API for problem categories (city-wide reference data: every staff user sees them all)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, viewsets
from rest_framework.response import Response

from grids.api import BAD_INPUT, query_params
from grids.serializers import ErrorSerializer

from . import selectors
from .models import Category
from .serializers import CategoryFilterSerializer, CategorySerializer


@extend_schema_view(
    list=extend_schema(
        summary=_("Problem categories"),
        description=_("All matching categories ordered by code, in one unpaginated list (there are about a hundred)."),
        parameters=[CategoryFilterSerializer],
        responses={200: CategorySerializer(many=True), 400: BAD_INPUT},
    ),
    retrieve=extend_schema(
        summary=_("One problem category"),
        responses={200: CategorySerializer,
                   404: OpenApiResponse(ErrorSerializer, description=_("No category with this code."))},
    ),
)
@extend_schema(tags=["categories"])
class CategoryViewSet(viewsets.GenericViewSet):
    queryset = Category.objects.none()
    serializer_class = CategorySerializer
    pagination_class = None
    lookup_field = "code"

    def list(self, request):
        params = query_params(request, CategoryFilterSerializer)
        categories = selectors.categories_list(
            active=params.get("active"), kind=params.get("kind"), major_code=params.get("major")
        )
        return Response(CategorySerializer(categories, many=True).data)

    def retrieve(self, request, code=None):
        category = selectors.category_get(code)
        if category is None:
            raise exceptions.NotFound(_("There is no category with this code."))
        return Response(CategorySerializer(category).data)
