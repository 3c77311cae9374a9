import json

from django.core.management.base import BaseCommand, CommandError

from grids.services import RegionImportError, regions_import


def read_feature_collection(path: str) -> list:
    """The ``features`` list of the GeoJSON FeatureCollection in ``path``, or CommandError saying what is wrong."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise CommandError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise CommandError(
            f"{path}: not a GeoJSON FeatureCollection (the file holds a JSON {type(data).__name__}, expected an "
            'object with "type": "FeatureCollection")'
        )
    if data.get("type") != "FeatureCollection":
        raise CommandError(
            f'{path}: not a GeoJSON FeatureCollection ("type" is {data.get("type")!r}, expected "FeatureCollection")'
        )
    features = data.get("features")
    if not isinstance(features, list):
        raise CommandError(f'{path}: the FeatureCollection has no "features" list')
    return features


class Command(BaseCommand):
    help = (
        "Create or update regions from a GeoJSON FeatureCollection (WGS84 Polygon/MultiPolygon features with "
        "properties code, name, level, parent_code). All-or-nothing: one bad feature refuses the whole file and "
        "every problem is listed as 'feature N (code): problem'. Existing codes get their name and boundary updated."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="GeoJSON FeatureCollection file (UTF-8)")

    def handle(self, *args, file, **options):
        features = read_feature_collection(file)
        try:
            summary = regions_import(features=features)
        except RegionImportError as exc:
            raise CommandError(f"{file}: {exc.message}") from exc
        self.stdout.write(self.style.SUCCESS(f"regions: {summary.created} created, {summary.updated} updated"))
