"""The shipped notification templates: every event and channel in English, Spanish, Russian
and Turkish, used when a merchant has not written its own.

They are data, not gettext: each language's text is written for that
language (Russian avoids counting nouns after numbers, which Django's
``pluralize`` cannot inflect; Turkish needs no plural after a number).
``DEFAULTS[language][event][channel]`` holds the parts of a template
(``subject``, ``body_text``, ``body_html`` for email; ``title``, ``body``,
``link`` for push), in the sandbox's syntax (``notifications.rendering``).

The emails are built from one layout: the text version and a simple,
inline-styled HTML version (a single column, real text rather than images,
``lang`` set, ``role="presentation"`` on layout tables, contrast above WCAG
AA), each ending with why the member gets it and the unsubscribe link (a service notice:
why the address gets it, and no unsubscribe link, as it goes whatever the member's consent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Blocks of an email's body, in order:
#   P(text, when)         a paragraph, shown only when the variable ``when`` is set
#   Code(text)            the coupon code, large and monospaced
#   Button(label, url)    a call to action (in the text version: "label: url")


@dataclass(frozen=True)
class P:
    text: str
    when: str = ""


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Button:
    label: str
    url: str


Block = P | Code | Button


@dataclass(frozen=True)
class EmailText:
    subject: str
    blocks: tuple[Block, ...]
    # A service notice (``notifications.models.NOTICE_EVENTS``): sent whatever the member's
    # consent, so it ends with why it came (``Language.why_notice``), not an unsubscribe link.
    notice: bool = False


@dataclass(frozen=True)
class PushText:
    title: str
    body: str
    link: str = "{{ profile_url }}"


@dataclass(frozen=True)
class Language:
    greeting: str
    why: str  # why the member gets this email
    unsubscribe: str
    why_notice: str  # why the holder of this address gets a service notice
    events: dict[str, tuple[EmailText, PushText]] = field(default_factory=dict)


COUPONS = "{{ profile_url }}#coupons"

LANGUAGES: dict[str, Language] = {
    "en": Language(
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
    ),
    "es": Language(
        greeting="{% if member_name %}Hola, {{ member_name }}:{% else %}Hola:{% endif %}",
        why="Recibes este correo porque eres miembro del programa de fidelización de "
        "{{ merchant_name }}.",
        unsubscribe="Darme de baja de estos correos",
        why_notice="Recibes este aviso porque esta era la dirección de tu cuenta del programa de "
        "fidelización de {{ merchant_name }}.",
        events={
            "reward_issued": (
                EmailText(
                    subject="Tu recompensa está lista: {{ coupon_code }}",
                    blocks=(
                        P("Tus puntos de {{ merchant_name }} se han convertido en un cupón. "
                          "Este es tu código:"),
                        Code("{{ coupon_code }}"),
                        P("Condiciones: {{ coupon_terms }}", when="coupon_terms"),
                        P("Válido hasta el {{ coupon_valid_until }}.", when="coupon_valid_until"),
                        P("Hemos usado {{ points }} punto{{ points|pluralize }}; tu saldo actual "
                          "es de {{ balance }} punto{{ balance|pluralize }}."),
                        Button("Ver mis cupones", COUPONS),
                    ),
                ),
                PushText(
                    title="Tu recompensa está lista",
                    body="Cupón {{ coupon_code }}: {{ coupon_terms }}",
                    link=COUPONS,
                ),
            ),
            "points_expiring": (
                EmailText(
                    subject="Tus puntos caducan el {{ expiry_date }}",
                    blocks=(
                        P("Tienes {{ expiring_points }} punto{{ expiring_points|pluralize }} en "
                          '{{ merchant_name }} que caducará{{ expiring_points|pluralize:"n" }} '
                          "el {{ expiry_date }}."),
                        P("Tu saldo: {{ balance }} punto{{ balance|pluralize }}. Aún estás a "
                          "tiempo: visítanos antes de esa fecha."),
                        Button("Ver mis puntos", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Tus puntos caducan pronto",
                    body="{{ expiring_points }} punto{{ expiring_points|pluralize }} "
                    'caducará{{ expiring_points|pluralize:"n" }} el {{ expiry_date }}.',
                ),
            ),
            "points_expired": (
                EmailText(
                    subject="Han caducado puntos de tu cuenta en {{ merchant_name }}",
                    blocks=(
                        P('Ha{{ points|pluralize:"n" }} caducado {{ points }} '
                          "punto{{ points|pluralize }}{% if expiry_date %} el "
                          "{{ expiry_date }}{% endif %}."),
                        P("Tu saldo actual es de {{ balance }} punto{{ balance|pluralize }}. "
                          "Con cada pedido vuelves a sumar puntos."),
                        Button("Ver mis puntos", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Puntos caducados",
                    body='Ha{{ points|pluralize:"n" }} caducado {{ points }} '
                    "punto{{ points|pluralize }}. Saldo: {{ balance }}.",
                ),
            ),
            "tier_changed": (
                EmailText(
                    subject="Tu nivel ahora es {{ tier_name }}",
                    blocks=(
                        P("Tu nivel de socio en {{ merchant_name }} ahora es {{ tier_name }}."),
                        P("En tu perfil puedes ver tus ventajas y lo que te falta para el "
                          "siguiente nivel."),
                        Button("Ver mi nivel", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Tu nivel ahora es {{ tier_name }}",
                    body="Abre tu perfil para ver tus ventajas.",
                ),
            ),
            "tier_expiring": (
                EmailText(
                    subject="Mantén tu nivel {{ tier_name }}",
                    blocks=(
                        P("Consigue {{ points }} punto{{ points|pluralize }} antes del "
                          "{{ expiry_date }} para seguir en el nivel {{ tier_name }} de "
                          "{{ merchant_name }}."),
                        P("Cada pedido cuenta para tu nivel."),
                        Button("Ver mi nivel", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Mantén tu nivel {{ tier_name }}",
                    body="Consigue {{ points }} punto{{ points|pluralize }} antes del "
                    "{{ expiry_date }} para seguir en {{ tier_name }}.",
                ),
            ),
            "points_granted": (
                EmailText(
                    subject="Has recibido {{ points }} punto{{ points|pluralize }}",
                    blocks=(
                        P("{{ merchant_name }} ha añadido {{ points }} "
                          "punto{{ points|pluralize }} a tu cuenta."),
                        P("Motivo: {{ reason }}", when="reason"),
                        P("Tu saldo actual es de {{ balance }} punto{{ balance|pluralize }}."),
                        Button("Ver mis puntos", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Has recibido {{ points }} punto{{ points|pluralize }}",
                    body="Tu saldo actual es de {{ balance }} punto{{ balance|pluralize }}.",
                ),
            ),
            "email_changed": (
                EmailText(
                    subject="Se ha cambiado la dirección de correo de tu cuenta de "
                    "{{ merchant_name }}",
                    blocks=(
                        P("Se ha cambiado la dirección de correo de tu cuenta del programa de "
                          "fidelización de {{ merchant_name }}. Esta dirección ya no recibirá "
                          "enlaces de acceso ni correos sobre tus puntos."),
                        P("Por tu seguridad, hemos cerrado todas las sesiones de tu página de "
                          "perfil."),
                        P("Si no has pedido este cambio, ponte en contacto con {{ merchant_name }} "
                          "cuanto antes."),
                    ),
                    notice=True,
                ),
                PushText(
                    title="Se ha cambiado tu dirección de correo",
                    body="Se ha cambiado la dirección de correo de tu cuenta de "
                    "{{ merchant_name }}. Si no fuiste tú, contáctanos.",
                ),
            ),
        },
    ),
    "ru": Language(
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
    ),
    "tr": Language(
        greeting="{% if member_name %}Merhaba {{ member_name }},{% else %}Merhaba,{% endif %}",
        why="Bu e-postayı {{ merchant_name }} sadakat programının üyesi olduğunuz için "
        "alıyorsunuz.",
        unsubscribe="Bu e-postaların aboneliğinden çıkın",
        why_notice="Bu bildirimi, bu adres {{ merchant_name }} sadakat programı hesabınızda "
        "kayıtlı olduğu için alıyorsunuz.",
        events={
            "reward_issued": (
                EmailText(
                    subject="Ödülünüz hazır: {{ coupon_code }}",
                    blocks=(
                        P("{{ merchant_name }} puanlarınız bir indirim kuponuna dönüştü. "
                          "Kupon kodunuz:"),
                        Code("{{ coupon_code }}"),
                        P("Koşullar: {{ coupon_terms }}", when="coupon_terms"),
                        P("Son geçerlilik tarihi: {{ coupon_valid_until }}",
                          when="coupon_valid_until"),
                        P("Bu kupon için {{ points }} puan kullanıldı; güncel bakiyeniz "
                          "{{ balance }} puan."),
                        Button("Kuponlarımı gör", COUPONS),
                    ),
                ),
                PushText(
                    title="Ödülünüz hazır",
                    body="Kupon {{ coupon_code }}: {{ coupon_terms }}",
                    link=COUPONS,
                ),
            ),
            "points_expiring": (
                EmailText(
                    subject="Puanlarınızın süresi {{ expiry_date }} tarihinde doluyor",
                    blocks=(
                        P("{{ merchant_name }} hesabınızdaki {{ expiring_points }} puanın süresi "
                          "{{ expiry_date }} tarihinde dolacak."),
                        P("Güncel bakiyeniz: {{ balance }} puan. Puanlarınızı kaybetmemek için bu "
                          "tarihten önce bize uğrayın."),
                        Button("Puanlarımı gör", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Puanlarınızın süresi doluyor",
                    body="{{ expiring_points }} puanın süresi {{ expiry_date }} tarihinde "
                    "dolacak.",
                ),
            ),
            "points_expired": (
                EmailText(
                    subject="{{ merchant_name }} hesabınızdaki puanların süresi doldu",
                    blocks=(
                        P("{{ points }} puanın süresi {% if expiry_date %}{{ expiry_date }} "
                          "tarihinde {% endif %}doldu."),
                        P("Güncel bakiyeniz: {{ balance }} puan. Her siparişinizle yeniden puan "
                          "kazanırsınız."),
                        Button("Puanlarımı gör", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Puanlarınızın süresi doldu",
                    body="{{ points }} puanın süresi doldu. Bakiye: {{ balance }} puan.",
                ),
            ),
            "tier_changed": (
                EmailText(
                    subject="Yeni seviyeniz: {{ tier_name }}",
                    blocks=(
                        P("{{ merchant_name }} programındaki üyelik seviyeniz artık "
                          "{{ tier_name }}."),
                        P("Ayrıcalıklarınızı ve bir sonraki seviyeye ne kadar kaldığını "
                          "profilinizde görebilirsiniz."),
                        Button("Seviyemi gör", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Yeni seviyeniz: {{ tier_name }}",
                    body="Ayrıcalıklarınızı görmek için profilinizi açın.",
                ),
            ),
            "tier_expiring": (
                EmailText(
                    subject="{{ tier_name }} seviyenizi koruyun",
                    blocks=(
                        P("{{ merchant_name }} üyeliğinizde {{ tier_name }} seviyesinde kalmak "
                          "için {{ expiry_date }} tarihine kadar {{ points }} puan kazanın."),
                        P("Her sipariş seviyenize katkı sağlar."),
                        Button("Seviyemi gör", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="{{ tier_name }} seviyenizi koruyun",
                    body="{{ expiry_date }} tarihine kadar {{ points }} puan kazanın.",
                ),
            ),
            "points_granted": (
                EmailText(
                    subject="Hesabınıza {{ points }} puan eklendi",
                    blocks=(
                        P("{{ merchant_name }} hesabınıza {{ points }} puan ekledi."),
                        P("Açıklama: {{ reason }}", when="reason"),
                        P("Güncel bakiyeniz: {{ balance }} puan."),
                        Button("Puanlarımı gör", "{{ profile_url }}"),
                    ),
                ),
                PushText(
                    title="Hesabınıza {{ points }} puan eklendi",
                    body="Güncel bakiyeniz: {{ balance }} puan.",
                ),
            ),
            "email_changed": (
                EmailText(
                    subject="{{ merchant_name }} hesabınızın e-posta adresi değiştirildi",
                    blocks=(
                        P("{{ merchant_name }} sadakat programı hesabınızın e-posta adresi "
                          "değiştirildi. Bu adres artık giriş bağlantıları veya puanlarınızla "
                          "ilgili e-postalar almayacak."),
                        P("Güvenliğiniz için profil sayfanızdaki tüm oturumlar sonlandırıldı."),
                        P("Bu değişikliği siz istemediyseniz hemen {{ merchant_name }} ile "
                          "iletişime geçin."),
                    ),
                    notice=True,
                ),
                PushText(
                    title="E-posta adresiniz değiştirildi",
                    body="{{ merchant_name }} hesabınızın e-posta adresi değiştirildi. Bu siz "
                    "değilseniz bizimle iletişime geçin.",
                ),
            ),
        },
    ),
}  # fmt: skip

# Inline styles: email clients ignore <style> blocks often enough not to rely on them.
FONT = "font-family:Arial,Helvetica,sans-serif;"
STYLE_PAGE = "margin:0;padding:0;background-color:#f4f4f5;"
STYLE_CARD = "max-width:560px;background-color:#ffffff;border-radius:8px;"
STYLE_MAIN = f"padding:32px;{FONT}font-size:16px;line-height:1.5;color:#1f2937;"
STYLE_SHOP = "margin:0 0 8px;font-size:14px;color:#4b5563;"
STYLE_H1 = "margin:0 0 16px;font-size:22px;line-height:1.3;color:#111827;"
STYLE_P = "margin:0 0 16px;"
STYLE_CODE = (
    "margin:0 0 16px;padding:12px 16px;background-color:#f3f4f6;border:1px dashed #6b7280;"
    "border-radius:6px;font-family:'Courier New',Courier,monospace;font-size:22px;"
    "font-weight:bold;letter-spacing:2px;text-align:center;color:#111827;"
)
STYLE_BUTTON = (
    "display:inline-block;padding:12px 20px;background-color:#1d4ed8;color:#ffffff;"
    "text-decoration:none;border-radius:6px;font-weight:bold;"
)
STYLE_FOOT = f"padding:0 32px 32px;{FONT}font-size:13px;line-height:1.5;color:#4b5563;"


def _when(block: P, text: str) -> str:
    return f"{{% if {block.when} %}}{text}{{% endif %}}" if block.when else text


def email_text(language: Language, email: EmailText) -> str:
    lines = [language.greeting]
    for block in email.blocks:
        if isinstance(block, P):
            lines.append(_when(block, block.text))
        elif isinstance(block, Code):
            lines.append(block.text)
        else:
            lines.append(f"{block.label}: {block.url}")
    body = "\n\n".join(lines)
    if email.notice:
        return f"{body}\n\n-- \n{language.why_notice}\n"
    return f"{body}\n\n-- \n{language.why}\n{language.unsubscribe}: {{{{ unsubscribe_url }}}}\n"


def email_html(code: str, language: Language, email: EmailText) -> str:
    rows = [f'<p style="{STYLE_P}">{language.greeting}</p>']
    for block in email.blocks:
        if isinstance(block, P):
            rows.append(_when(block, f'<p style="{STYLE_P}">{block.text}</p>'))
        elif isinstance(block, Code):
            rows.append(f'<p style="{STYLE_CODE}">{block.text}</p>')
        else:
            rows.append(
                f'<p style="margin:24px 0;"><a href="{block.url}" style="{STYLE_BUTTON}">'
                f"{block.label}</a></p>"
            )
    body = "\n".join(rows)
    footer = (
        language.why_notice
        if email.notice
        else f'{language.why}\n<a href="{{{{ unsubscribe_url }}}}" style="color:#374151;">'
        f"{language.unsubscribe}</a>"
    )
    return f"""<!DOCTYPE html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{email.subject}</title>
</head>
<body style="{STYLE_PAGE}">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
style="background-color:#f4f4f5;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
style="{STYLE_CARD}">
<tr><td style="{STYLE_MAIN}">
<p style="{STYLE_SHOP}">{{{{ merchant_name }}}}</p>
<h1 style="{STYLE_H1}">{email.subject}</h1>
{body}
</td></tr>
<tr><td style="{STYLE_FOOT}">
<p style="margin:0;">{footer}</p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""


def _build() -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    built: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for code, language in LANGUAGES.items():
        for event, (email, push) in language.events.items():
            built.setdefault(code, {})[event] = {
                "email": {
                    "subject": email.subject,
                    "body_text": email_text(language, email),
                    "body_html": email_html(code, language, email),
                },
                "push": {"title": push.title, "body": push.body, "link": push.link},
            }
    return built


DEFAULTS = _build()
FALLBACK_LANGUAGE = "en"


def default_parts(*, event: str, channel: str, language: str) -> dict[str, str]:
    """The shipped template for an event and channel, in ``language`` or else English."""
    events = DEFAULTS.get(language) or DEFAULTS[FALLBACK_LANGUAGE]
    parts = events.get(event, {}).get(channel)
    if parts is None:
        parts = DEFAULTS[FALLBACK_LANGUAGE][event][channel]
    return parts
