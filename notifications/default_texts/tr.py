"""The shipped templates in Turkish."""

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
)  # fmt: skip
