"""The demo shop's texts in Spanish, Russian and Turkish beside their English base values
(``loyalty.content``): its rewards' names and the reasons its staff give for grants and
deductions (``loyalty.demo_plan``'s, by their English text). Its tiers are the default
program's, which carry their own (``loyalty.services.tier_settings.DEFAULT_TIERS``).

``demo_content_write`` fills in what a reward of the demo does not have yet, so a
rerun changes nothing and what staff typed since is kept.
"""

from loyalty.models import Program
from rewards.models import RewardThreshold

# The rewards by their thresholds' points: the base name and its translations.
REWARDS: dict[int, tuple[str, dict[str, str]]] = {
    5000: (
        "10% off: reward for 5,000 points",
        {
            "es": "10 % de descuento: recompensa por 5.000 puntos",
            "ru": "Скидка 10 %: награда за 5 000 баллов",
            "tr": "%10 indirim: 5.000 puan ödülü",
        },
    ),
    10000: (
        "25 EUR off: reward for 10,000 points",
        {
            "es": "25 EUR de descuento: recompensa por 10.000 puntos",
            "ru": "Скидка 25 EUR: награда за 10 000 баллов",
            "tr": "25 EUR indirim: 10.000 puan ödülü",
        },
    ),
}

REASONS: dict[str, dict[str, str]] = {
    "Sorry for the late delivery of your order": {
        "es": "Perdón por el retraso en la entrega de tu pedido",
        "ru": "Извините за задержку доставки вашего заказа",
        "tr": "Siparişinizin geç teslimatı için özür dileriz",
    },
    "Welcome gift for joining the newsletter": {
        "es": "Regalo de bienvenida por suscribirte al boletín",
        "ru": "Приветственный подарок за подписку на рассылку",
        "tr": "Bültene katıldığınız için hoş geldin hediyesi",
    },
    "Thank you for your detailed product review": {
        "es": "Gracias por tu reseña detallada del producto",
        "ru": "Спасибо за подробный отзыв о товаре",
        "tr": "Ayrıntılı ürün yorumunuz için teşekkürler",
    },
    "Compensation for a damaged parcel": {
        "es": "Compensación por un paquete dañado",
        "ru": "Компенсация за повреждённую посылку",
        "tr": "Hasarlı paket için telafi",
    },
    "Birthday gift from the Demo Shop team": {
        "es": "Regalo de cumpleaños del equipo de Demo Shop",
        "ru": "Подарок на день рождения от команды Demo Shop",
        "tr": "Demo Shop ekibinden doğum günü hediyesi",
    },
    "Goodwill gesture after a support call": {
        "es": "Un detalle tras tu llamada al servicio de atención",
        "ru": "Жест доброй воли после обращения в поддержку",
        "tr": "Destek görüşmesinin ardından iyi niyet jesti",
    },
    "Points granted twice by mistake": {
        "es": "Puntos concedidos dos veces por error",
        "ru": "Баллы начислены дважды по ошибке",
        "tr": "Puanlar yanlışlıkla iki kez verildi",
    },
    "Order cancelled by phone after it earned points": {
        "es": "Pedido cancelado por teléfono después de sumar puntos",
        "ru": "Заказ отменён по телефону после начисления баллов",
        "tr": "Puan kazandıktan sonra telefonla iptal edilen sipariş",
    },
    "Correction of a manual grant sent to the wrong customer": {
        "es": "Corrección de una concesión manual enviada al cliente equivocado",
        "ru": "Исправление ручного начисления, отправленного не тому клиенту",
        "tr": "Yanlış müşteriye yapılan manuel puan yüklemesinin düzeltmesi",
    },
    # Compensation coupons' and voids' reasons (loyalty.demo_plan), which members read too.
    "Parcel arrived damaged": {
        "es": "El paquete llegó dañado",
        "ru": "Посылка пришла повреждённой",
        "tr": "Paket hasarlı ulaştı",
    },
    "Sorry for the two-week delivery delay": {
        "es": "Perdón por el retraso de dos semanas en la entrega",
        "ru": "Извините за задержку доставки на две недели",
        "tr": "İki haftalık teslimat gecikmesi için özür dileriz",
    },
    "Wrong size sent; thank you for your patience": {
        "es": "Enviamos una talla equivocada; gracias por tu paciencia",
        "ru": "Мы отправили не тот размер; спасибо за терпение",
        "tr": "Yanlış beden gönderildi; sabrınız için teşekkürler",
    },
    "Customer asked to cancel the coupon and keep the points for a bigger reward": {
        "es": "Pediste anular el cupón y guardar los puntos para una recompensa mayor",
        "ru": "Вы попросили отменить купон и сохранить баллы для большей награды",
        "tr": "Kuponu iptal edip puanları daha büyük bir ödül için saklamak istediniz",
    },
}


def demo_content_write(program: Program) -> None:
    """The demo's rewards in four languages, where they have none yet (one
    statement a row; the settings version follows through the tables' triggers)."""
    thresholds = RewardThreshold.objects.filter(program=program).select_related("template")
    for threshold in thresholds:
        found = REWARDS.get(threshold.points)
        template = threshold.template
        # Only the name ``thresholds_replace`` gave it: a name staff chose stays.
        if found is None or template.name != f"Reward at {threshold.points} points":
            continue
        template.name, template.name_i18n = found
        template.save(update_fields=["name", "name_i18n"])
