"""The schema of the program's JSON fields (``PUT /program``): an earning rule's ``parameters``
by its ``kind`` (one shape a kind), texts per language. The services check the same
(``loyalty.services.earning.rule_parameters``, ``loyalty.content.translations_clean``)."""

from typing import Any

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)

from loyalty.api.schema_text import NOT_TRIMMED
from loyalty.content import MAX_LINES, content_languages


class TranslationsFieldScheme(OpenApiSerializerFieldExtension):
    """Texts per language (``loyalty.content.translations_clean``): an object of the known
    languages, each a text without NUL of at most ``text_length`` characters (``lines``: a list
    of at most 20 such texts); an empty string is taken as none."""

    target_class = "loyalty.api.serializers.fields.TranslationsField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        text = {"type": "string", "maxLength": self.target.text_length, "pattern": r"^[^\x00]*$"}
        value = (
            {"type": "array", "items": text, "maxItems": MAX_LINES} if self.target.lines else text
        )
        languages = {
            "type": "object",
            "properties": dict.fromkeys(content_languages(), value),
            "additionalProperties": False,
        }
        help_text = str(self.target.help_text or "")
        if direction == "response":
            return {**languages, "description": help_text}
        return {"anyOf": [languages, {"type": "string", "maxLength": 0}],
                "description": help_text}  # fmt: skip


# A rule's parameters by its kind (``loyalty.services.earning.rule_parameters``).
RULE_POINTS = {"type": "integer", "minimum": 1, "maximum": 1_000_000}
RULE_TEXT = {"type": "string", "maxLength": 100}  # and not blank (the pattern below)
# A line bonus's multiplier: more than 1, at most 100, a decimal string or a whole number (the
# API reads JSON fractions as decimals, which a JSON field does not keep).
RULE_MULTIPLIER = {
    "anyOf": [
        {
            "type": "string",
            "pattern": r"^(1\.[0-9]*[1-9][0-9]*|[2-9](\.[0-9]+)?|[1-9][0-9](\.[0-9]+)?"
            r"|100(\.0+)?)$",
        },
        {"type": "integer", "minimum": 2, "maximum": 100},
    ],
    "description": "More than 1, at most 100: the line's points are multiplied by it. A "
    'decimal string ("1.5"), or a whole JSON number.',
}


def _parameters(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


def rule_variants() -> list[tuple[list[str], dict[str, Any]]]:
    """(kinds, the schema of their parameters)."""
    text = {**RULE_TEXT, "pattern": rf"^[^\x00]*{NOT_TRIMMED}[^\x00]*$"}
    bonus = {"points_per_unit": RULE_POINTS, "multiplier": RULE_MULTIPLIER}
    some_bonus = {"anyOf": [{"required": ["points_per_unit"]}, {"required": ["multiplier"]}]}
    return [
        (["signup", "birthday", "cap_day", "cap_month"], _parameters({"points": RULE_POINTS})),
        (["referral"], _parameters({"referrer_points": RULE_POINTS,
                                    "referred_points": RULE_POINTS})),
        (["product_bonus"], {**_parameters({"sku": text}, bonus), **some_bonus}),
        (["category_bonus"], {**_parameters({"category": text}, bonus), **some_bonus}),
        (["exclusion"], {"oneOf": [_parameters({"sku": text}), _parameters({"category": text})]}),
    ]  # fmt: skip


class EarningRuleScheme(OpenApiSerializerExtension):
    """An earning rule in a request: one shape a kind (``oneOf``), its ``parameters`` exact."""

    target_class = "loyalty.api.serializers.program.EarningRuleSerializer"

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        if direction != "request":
            return schema
        variants = []
        for kinds, parameters in rule_variants():
            properties = {
                **schema["properties"],
                # A pattern, not an enum: the enum hook would name it the kinds' enum.
                "kind": {
                    "type": "string",
                    "pattern": f"^({'|'.join(kinds)})$",
                    "description": " or ".join(f"`{kind}`" for kind in kinds),
                },
                "parameters": parameters,
            }
            variant = {**schema, "properties": properties}
            variant.pop("description", None)
            variants.append(variant)
        return {
            "oneOf": variants,
            "description": schema.get("description", "")
            + ' signup, birthday, cap_day, cap_month: `{"points": n}`; referral: '
            '`{"referrer_points": n, "referred_points": n}`; product_bonus: `{"sku", '
            '"points_per_unit"?, "multiplier"?}` and category_bonus: `{"category", '
            '"points_per_unit"?, "multiplier"?}`, with at least one of the two; exclusion: '
            '`{"sku"}` or `{"category"}`. Points from 1 to 1000000.',
        }
