import json

from django.core.management.base import BaseCommand, CommandError

from grids.models import Level, Region
from grids.selectors import region_subtree
from grids.services import region_feature


class Command(BaseCommand):
    help = (
        "Write regions as a GeoJSON FeatureCollection (UTF-8, ordered by code) that import_regions reads back: "
        "the whole tree, or the subtree of --root (the root included; its own parent_code then points outside the "
        "file), optionally only one --level."
    )

    def add_arguments(self, parser):
        parser.add_argument("--root", metavar="CODE", help="export only this region and everything under it")
        parser.add_argument("--level", choices=Level.values, help="export only regions of this level")
        parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    def handle(self, *args, root, level, output, **options):
        regions = Region.objects.all()
        if root:
            try:
                regions = region_subtree(Region.objects.get(code=root))
            except Region.DoesNotExist:
                raise CommandError(f"unknown region code {root!r} for --root") from None
        if level:
            regions = regions.filter(level=level)
        regions = regions.select_related("parent").only("code", "name", "level", "boundary", "parent__code")
        features = [region_feature(r) for r in regions.order_by("code").iterator(chunk_size=5000)]
        text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False) + "\n"
        if output:
            try:
                with open(output, "w", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                raise CommandError(f"{output}: cannot write the file ({exc.strerror or exc})") from exc
            self.stdout.write(f"regions: {len(features)} exported to {output}")
        else:
            self.stdout.write(text, ending="")
