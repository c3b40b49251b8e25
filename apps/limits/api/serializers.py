from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.limits.models import Metric, Window
from discobot.api.fields import JsonNumberField
from discobot.api.serializers import StrictSerializer


class LimitInputSerializer(StrictSerializer):
    scope = serializers.ChoiceField(choices=["project", "member"])
    userId = serializers.UUIDField(
        required=False, allow_null=True, help_text="The member a member limit applies to"
    )
    metric = serializers.ChoiceField(choices=Metric.values)
    window = serializers.ChoiceField(
        choices=Window.values, required=False, help_text="Left out of a concurrent_turns limit"
    )
    amount = JsonNumberField(
        max_digits=20,
        decimal_places=6,
        min_value=0,
        # Far above any budget, and below what every database's decimal column keeps exactly.
        max_value=Decimal(10**12),
        help_text="Tokens, US dollars, turns or concurrent turns",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["scope"] == "member" and not data.get("userId"):
            raise serializers.ValidationError({"userId": ["A member limit names its userId"]})
        if data["scope"] == "project" and data.get("userId"):
            raise serializers.ValidationError({"userId": ["A project limit names no userId"]})
        if "window" not in data:
            if data["metric"] != Metric.CONCURRENT_TURNS:
                raise serializers.ValidationError({"window": ["Window is required"]})
            data["window"] = Window.TOTAL
        return data


class LimitsInputSerializer(StrictSerializer):
    limits = LimitInputSerializer(many=True)


LIMIT_OUTPUT: dict[str, serializers.Field[Any, Any, Any, Any]] = {
    "scope": serializers.ChoiceField(choices=["project", "member"]),
    "userId": serializers.CharField(allow_null=True),
    "userEmail": serializers.CharField(allow_null=True),
    "metric": serializers.ChoiceField(choices=Metric.values),
    "window": serializers.ChoiceField(choices=Window.values),
    "amount": serializers.FloatField(),
    "used": serializers.FloatField(help_text="In the current period (concurrent: running now)"),
    "resetsAt": serializers.DateTimeField(
        allow_null=True, help_text="When the current period ends (null: never)"
    ),
    "default": serializers.BooleanField(
        help_text="The instance's default (DEFAULT_LIMITS), where the project set none"
    ),
}
