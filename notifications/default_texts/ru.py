"""The shipped templates in Russian."""

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
    greeting="{% if member_name %}Здравствуйте, {{ member_name }}!{% else %}Здравствуйте!"
    "{% endif %}",
    why="Вы получили это письмо, потому что участвуете в программе лояльности "
    "{{ merchant_name }}.",
    unsubscribe="Отписаться от этих писем",
    why_notice="Вы получили это уведомление, потому что этот адрес был указан в вашей учётной "
    "записи программы лояльности {{ merchant_name }}.",
    events={
        "reward_issued": (
            EmailText(
                subject="Ваша награда готова: {{ coupon_code }}",
                blocks=(
                    P("Ваши баллы в программе {{ merchant_name }} обменяны на купон. "
                      "Ваш код:"),
                    Code("{{ coupon_code }}"),
                    P("Условия: {{ coupon_terms }}", when="coupon_terms"),
                    P("Действует до {{ coupon_valid_until }} включительно.",
                      when="coupon_valid_until"),
                    P("Списано баллов: {{ points }}. Текущий баланс: {{ balance }}."),
                    Button("Мои купоны", COUPONS),
                ),
            ),
            PushText(
                title="Ваша награда готова",
                body="Купон {{ coupon_code }}: {{ coupon_terms }}",
                link=COUPONS,
            ),
        ),
        "points_expiring": (
            EmailText(
                subject="Срок действия ваших баллов истекает {{ expiry_date }}",
                blocks=(
                    P("Напоминаем: {{ expiry_date }} истекает срок действия баллов в "
                      "программе {{ merchant_name }}. Сгорит баллов: {{ expiring_points }}."),
                    P("Текущий баланс: {{ balance }}. Ещё не поздно: загляните к нам до "
                      "этой даты."),
                    Button("Мои баллы", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Баллы скоро сгорят",
                body="{{ expiry_date }} сгорит баллов: {{ expiring_points }}.",
            ),
        ),
        "points_expired": (
            EmailText(
                subject="Сгорели баллы в программе {{ merchant_name }}",
                blocks=(
                    P("{% if expiry_date %}{{ expiry_date }} истёк{% else %}Истёк"
                      "{% endif %} срок действия баллов. Сгорело баллов: {{ points }}."),
                    P("Текущий баланс: {{ balance }}. За каждый заказ вы снова получаете "
                      "баллы."),
                    Button("Мои баллы", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Баллы сгорели",
                body="Сгорело баллов: {{ points }}. Баланс: {{ balance }}.",
            ),
        ),
        "tier_changed": (
            EmailText(
                subject="Ваш новый уровень: {{ tier_name }}",
                blocks=(
                    P("Ваш уровень в программе {{ merchant_name }} изменился: теперь это "
                      "{{ tier_name }}."),
                    P("В профиле вы найдёте свои привилегии и увидите, сколько осталось до "
                      "следующего уровня."),
                    Button("Мой уровень", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Ваш новый уровень: {{ tier_name }}",
                body="Откройте профиль, чтобы узнать о своих привилегиях.",
            ),
        ),
        "tier_expiring": (
            EmailText(
                subject="Сохраните уровень {{ tier_name }}",
                blocks=(
                    P("Чтобы сохранить уровень {{ tier_name }} в {{ merchant_name }}, "
                      "наберите до {{ expiry_date }} ещё столько баллов: {{ points }}."),
                    P("Каждый заказ приближает вас к цели."),
                    Button("Мой уровень", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Сохраните уровень {{ tier_name }}",
                body="Наберите до {{ expiry_date }} ещё столько баллов: {{ points }}.",
            ),
        ),
        "points_granted": (
            EmailText(
                subject="Вам начислены баллы: {{ points }}",
                blocks=(
                    P("Магазин {{ merchant_name }} начислил вам баллы: {{ points }}."),
                    P("Причина: {{ reason }}", when="reason"),
                    P("Текущий баланс: {{ balance }}."),
                    Button("Мои баллы", "{{ profile_url }}"),
                ),
            ),
            PushText(
                title="Вам начислены баллы: {{ points }}",
                body="Текущий баланс: {{ balance }}.",
            ),
        ),
        "email_changed": (
            EmailText(
                subject="Адрес электронной почты вашей учётной записи в {{ merchant_name }} "
                "изменён",
                blocks=(
                    P("Адрес электронной почты вашей учётной записи в программе лояльности "
                      "{{ merchant_name }} изменён. На этот адрес больше не будут приходить "
                      "ссылки для входа и письма о ваших баллах."),
                    P("В целях безопасности все входы в ваш профиль завершены."),
                    P("Если вы не просили об этом изменении, немедленно свяжитесь с "
                      "{{ merchant_name }}."),
                ),
                notice=True,
            ),
            PushText(
                title="Адрес электронной почты изменён",
                body="Адрес почты вашей учётной записи в {{ merchant_name }} изменён. "
                "Если это были не вы, свяжитесь с нами.",
            ),
        ),
    },
)  # fmt: skip
