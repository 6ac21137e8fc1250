"""The shipped templates in Spanish."""

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
)  # fmt: skip
