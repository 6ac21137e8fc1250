"""The shipped templates in English."""

from notifications.default_texts.blocks import (
    COUPONS,
    Button,
    Code,
    EmailText,
    Language,
    P,
    PushText,
)

LANGUAGE = Language(
    greeting="{% if member_name %}Hi {{ member_name }},{% else %}Hi,{% endif %}",
    why="You receive this email because you are a member of the {{ merchant_name }} "
    "loyalty program.",
    unsubscribe="Unsubscribe from these emails",
    why_notice="You receive this notice because this address was the one on your "
    "{{ merchant_name }} loyalty account.",
    events={
        "reward_issued": (
            EmailText(
                subject="Your reward is ready: {{ coupon_code }}",
                blocks=(
                    P("Your points at {{ merchant_name }} have turned into a coupon. "
                      "Here is your code:"),
                    Code("{{ coupon_code }}"),
                    P("Terms: {{ coupon_terms }}", when="coupon_terms"),
                    P("Valid until {{ coupon_valid_until }}.", when="coupon_valid_until"),
                    P("We used {{ points }} point{{ points|pluralize }} for it; your balance "
                      "is now {{ balance }} point{{ balance|pluralize }}."),
                    Button("See my coupons", COUPONS),
                ),
            ),
            PushText(
                title="Your reward is ready",
                body="Coupon {{ coupon_code }}: {{ coupon_terms }}",
                link=COUPONS,
            ),
        ),
        "points_expiring": (
            EmailText(
                subject="Your points expire on {{ expiry_date }}",
                blocks=(
                    P("You have {{ expiring_points }} point{{ expiring_points|pluralize }} "
                      "at {{ merchant_name }} that will expire on {{ expiry_date }}."),
                    P("Your balance: {{ balance }} point{{ balance|pluralize }}. There is "
                      "still time: visit us before then."),
                    Button("See my points", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Your points expire soon",
                body="{{ expiring_points }} point{{ expiring_points|pluralize }} will expire "
                "on {{ expiry_date }}.",
            ),
        ),
        "points_expired": (
            EmailText(
                subject="Points have expired on your {{ merchant_name }} account",
                blocks=(
                    P("{{ points }} point{{ points|pluralize }} expired{% if expiry_date %} "
                      "on {{ expiry_date }}{% endif %}."),
                    P("Your balance is now {{ balance }} point{{ balance|pluralize }}. "
                      "Every order earns you new points."),
                    Button("See my points", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Points expired",
                body="{{ points }} point{{ points|pluralize }} expired. "
                "Balance: {{ balance }}.",
            ),
        ),
        "tier_changed": (
            EmailText(
                subject="Your tier is now {{ tier_name }}",
                blocks=(
                    P("Your membership tier at {{ merchant_name }} is now {{ tier_name }}."),
                    P("Your profile shows your perks and how close you are to the next "
                      "tier."),
                    Button("See my tier", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Your tier is now {{ tier_name }}",
                body="Open your profile to see your perks.",
            ),
        ),
        "tier_expiring": (
            EmailText(
                subject="Keep your {{ tier_name }} tier",
                blocks=(
                    P("Earn {{ points }} point{{ points|pluralize }} by {{ expiry_date }} to "
                      "stay {{ tier_name }} at {{ merchant_name }}."),
                    P("Every order counts toward your tier."),
                    Button("See my tier", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Keep your {{ tier_name }} tier",
                body="Earn {{ points }} point{{ points|pluralize }} by {{ expiry_date }} to "
                "stay {{ tier_name }}.",
            ),
        ),
        "points_granted": (
            EmailText(
                subject="You received {{ points }} point{{ points|pluralize }}",
                blocks=(
                    P("{{ merchant_name }} added {{ points }} point{{ points|pluralize }} "
                      "to your account."),
                    P("Reason: {{ reason }}", when="reason"),
                    P("Your balance is now {{ balance }} point{{ balance|pluralize }}."),
                    Button("See my points", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="You received {{ points }} point{{ points|pluralize }}",
                body="Your balance is now {{ balance }} point{{ balance|pluralize }}.",
            ),
        ),
        "email_changed": (
            EmailText(
                subject="The email address of your {{ merchant_name }} account was changed",
                blocks=(
                    P("The email address of your loyalty account at {{ merchant_name }} was "
                      "changed. This address will no longer get sign-in links or emails "
                      "about your points."),
                    P("For your safety, every sign-in to your profile page has ended."),
                    P("If you did not ask for this change, contact {{ merchant_name }} right "
                      "away."),
                ),
                notice=True,
            ),
            PushText(
                title="Your email address was changed",
                body="The email address of your {{ merchant_name }} account was changed. "
                "If it was not you, contact us.",
            ),
        ),
    },
)  # fmt: skip
