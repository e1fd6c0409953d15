"""Parses a Prometheus text-format file with prometheus_client's parser (an implementation that
shares no code with Conveyor) and prints its families as JSON:
[{"name", "type", "help", "samples": [{"name", "labels", "value", "timestamp"}]}].
Values that are not finite are printed as strings ("NaN", "+Inf", "-Inf")."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def number(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    families = []
    for family in text_string_to_metric_families(text):
        families.append({
            "name": family.name, "type": family.type, "help": family.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": number(s.value),
                         "timestamp": s.timestamp} for s in family.samples],
        })
    json.dump(families, sys.stdout)


if __name__ == "__main__":
    main()
