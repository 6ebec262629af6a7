"""Emergencies told in everyday words in the nine other languages with a word list, and
harmless messages in the same languages that must stay routine (the lexicon alone).

Written for intake by a non-native speaker, like the word lists; Roman-script Urdu, Punjabi and
Bengali/Sylheti, and English words people mix in ("carer", "overdose"), are included on purpose.
"""

from __future__ import annotations

import pytest

from intake.screening.engine import screen_text

CASES: list[tuple[str, str, str | None]] = [
    # Polish
    ("Pocięłam się mocno i krew nie przestaje lecieć, pomocy", "emergency", "suicide_self_harm"),
    ("Mama wzięła wszystkie tabletki i nie mogę jej dobudzić", "emergency", "suicide_self_harm"),
    ("Tata leży na podłodze od wczoraj, opiekunka nie przyszła i jest sam", "emergency", "neglect"),
    ("Babcia ma demencję, wyszła z domu w koszuli nocnej", "emergency", None),
    ("Mąż mnie teraz bije, powiedział że mnie zabije dziś w nocy", "emergency", "domestic"),
    ("Szef zabrał nam paszporty, nie płacą i śpimy w kontenerze, dzisiaj szef mnie pobił",
     "emergency", "modern_slavery"),
    ("Szef zabrał nam paszporty, nie płacą i śpimy w kontenerze", "urgent", "modern_slavery"),
    ("Mama jest teraz na telefonie z fałszywym policjantem i każe jej wypłacić pieniądze",
     "emergency", "financial"),
    ("Dzień dobry, chciałabym zapytać o termin wizyty w przyszłym tygodniu", "routine", None),
    ("Dziękuję bardzo za pomoc i za ostatnią wiadomość", "routine", None),
    ("Mama ma demencję i potrzebuje pomocy z oceną potrzeb", "routine", None),
    # Urdu (Roman and Arabic script)
    ("Meri behen ne khud ko kaat liya hai aur khoon nahi ruk raha please jaldi", "emergency",
     "suicide_self_harm"),
    ("Ammi ne sari dawaiyan kha li hain aur uth nahi rahi", "emergency", "suicide_self_harm"),
    ("Abbu kal raat se farsh pe pare hain, carer nahi aaya", "emergency", "neglect"),
    ("Mera shohar abhi mujhe maar raha hai, kehta hai aaj raat maar dega", "emergency", "domestic"),
    ("Malik ne passport le liya, paise nahi dete, hum container mein sote hain, aaj malik ne mara",
     "emergency", "modern_slavery"),
    ("Ammi abhi phone pe hai fake police ke saath aur paise nikal rahi hain", "emergency",
     "financial"),
    ("میری امی نے ساری دوائیاں کھا لی ہیں", "emergency", "suicide_self_harm"),
    ("Assalam o alaikum, appointment kab hai? shukriya", "routine", None),
    ("Aap ka bohat shukriya madad ke liye", "routine", None),
    ("Ammi akeli hain ghar mein, kya koi advocate mil sakta hai", "routine", None),
    # Punjabi (Roman, Gurmukhi)
    ("Meri bhain ne apne aap nu kat leya te khoon nahi rukda, jaldi aao", "emergency",
     "suicide_self_harm"),
    ("Bapu ne sariyan dawaiyan kha layiyan te uth nahi reha", "emergency", "suicide_self_harm"),
    ("Bebe raat ton farsh te paye ne, carer nahi aaya", "emergency", "neglect"),
    ("Mera pati hune mainu kutt reha, kehnda ajj raat maar devega", "emergency", "domestic"),
    ("Malik ne passport le leya, paise nahi dende, ajj malik ne maarya", "emergency",
     "modern_slavery"),
    ("Papa hune phone te ne fake police naal te paise kadh rahe ne", "emergency", "financial"),
    ("ਮੇਰੀ ਭੈਣ ਨੇ ਆਪਣੇ ਆਪ ਨੂੰ ਕੱਟ ਲਿਆ, ਬਹੁਤ ਖੂਨ", "emergency", "suicide_self_harm"),
    ("Sat sri akal ji, appointment kado hai?", "routine", None),
    ("Tuhada bahut dhanvaad ji", "routine", None),
    ("Mummy ikalli hai ghar, ki koi advocate mil sakda?", "routine", None),
    # Bengali (Roman/Sylheti, script)
    ("Amar bon nijeke kete feleche, rokto thamche na, taratari ashun", "emergency",
     "suicide_self_harm"),
    ("Ammar ma sob oshud khai lise, ghum theke uthche na", "emergency", "suicide_self_harm"),
    ("Abba kal raat theke mejhete pore ache, carer asheni", "emergency", "neglect"),
    ("Nanu bari theke beriye geche nighty pore, khub thanda", "emergency", None),
    ("Amar shami ekhon amake marche, bolche aj rate mere felbe", "emergency", "domestic"),
    ("Amake jor kore biye dite chay, kal flight", "emergency", "domestic"),
    ("Abba ekhon phone e fake police er sathe, bank theke taka tulche", "emergency", "financial"),
    ("আমার বোন নিজেকে কেটে ফেলেছে, রক্ত থামছে না", "emergency", "suicide_self_harm"),
    ("Apnake onek dhonnobad", "routine", None),
    ("Amar mayer care assessment niye jante chai", "routine", None),
    ("Ami form ta khuje pacchi na, help korben?", "routine", None),
    # Arabic
    ("اختي جرحت حالها والدم ما بيوقف، بسرعة", "emergency", "suicide_self_harm"),
    ("امي اخدت كل الحبوب وما بتصحى", "emergency", "suicide_self_harm"),
    ("ابوي واقع على الارض من امبارح والكارير ما اجا", "emergency", "neglect"),
    ("ستي عندها زهايمر طلعت من البيت بقميص النوم والبرد كتير", "emergency", None),
    ("جوزي هلق عم يضربني، قال رح يقتلني الليلة", "emergency", "domestic"),
    ("اخدوا الباسبور، ما بيدفعولنا، بننام بكونتينر، اليوم المعلم ضربني", "emergency",
     "modern_slavery"),
    ("اهلي بدهم يجوزوني غصب عني، الطيارة بكرا، اخدوا جوازي", "emergency", "domestic"),
    ("ابي هلق على التلفون مع شرطي مزيف وعم يسحب مصاري", "emergency", "financial"),
    ("ريحة غاز قوية عند الجارة وما بتفتح الباب من ثلاث ايام", "emergency", None),
    ("السلام عليكم، متى موعدي الجاي؟", "routine", None),
    ("شكرا كتير على مساعدتكم", "routine", None),
    ("طلعت من البيت الساعة تسعة وضاع الموعد، ممكن موعد جديد؟", "routine", None),
    # Spanish
    ("Mi hermana se ha cortado muy fuerte y no para de sangrar, ayuda", "emergency",
     "suicide_self_harm"),
    ("Mi madre se tomo todas las pastillas y no se despierta", "emergency", "suicide_self_harm"),
    ("Mi padre esta en el suelo desde anoche, la cuidadora no vino y esta solo", "emergency",
     "neglect"),
    ("Mi abuela tiene demencia, salio de casa y no vuelve, va en camison y hace mucho frio",
     "emergency", None),
    ("Mi marido me esta pegando ahora, dijo que me va a matar esta noche", "emergency", "domestic"),
    ("Nos quitaron el pasaporte, no nos pagan, dormimos en un contenedor y hoy el jefe me pego",
     "emergency", "modern_slavery"),
    ("Mis padres me quieren casar, el vuelo es mañana", "emergency", "domestic"),
    ("Mi padre esta al telefono ahora con un falso policia y esta sacando dinero", "emergency",
     "financial"),
    ("Hola, quería confirmar mi cita del martes. Gracias.", "routine", None),
    ("Muchas gracias por su ayuda", "routine", None),
    ("Quería preguntar por la evaluación de cuidados de mi madre", "routine", None),
    # Portuguese
    ("A minha irmã cortou-se muito e não para de sangrar, socorro", "emergency",
     "suicide_self_harm"),
    ("A minha mãe tomou todos os comprimidos e não acorda", "emergency", "suicide_self_harm"),
    ("O meu pai está no chão desde ontem, a cuidadora não veio e está sozinho", "emergency",
     "neglect"),
    ("O meu marido está-me a bater agora, disse que me mata esta noite", "emergency", "domestic"),
    ("Tiraram-me o passaporte, não nos pagam, dormimos num contentor e hoje o patrão bateu-me",
     "emergency", "modern_slavery"),
    ("Os meus pais querem-me casar, o voo é amanhã", "emergency", "domestic"),
    ("O meu pai está ao telefone agora com um falso polícia a levantar dinheiro", "emergency",
     "financial"),
    ("Cheira a gás no apartamento da vizinha e não abre a porta há dias", "emergency", None),
    ("Olá, queria confirmar a minha consulta de terça-feira. Obrigada.", "routine", None),
    ("Muito obrigado pela vossa ajuda", "routine", None),
    ("Queria saber sobre a avaliação de cuidados do meu pai", "routine", None),
    # Romanian
    ("Sora mea s-a taiat rau si sangereaza tare, nu se opreste sangele", "emergency",
     "suicide_self_harm"),
    ("Mama a luat toate pastilele si nu se trezeste", "emergency", "suicide_self_harm"),
    ("Tata e pe jos de aseara, ingrijitoarea nu a venit si e singur", "emergency", "neglect"),
    ("Bunica are dementa, a plecat de acasa si nu s-a intors, e in camasa de noapte si e frig",
     "emergency", "neglect"),
    ("Sotul meu ma bate acum, a zis ca ma omoara diseara", "emergency", "domestic"),
    ("Parintii vor sa ma marite, zborul e maine", "emergency", "domestic"),
    ("Tata vorbeste la telefon acum cu un politist fals si scoate bani", "emergency", "financial"),
    ("Miroase a gaz la vecina si nu deschide usa de trei zile", "emergency", None),
    ("Buna ziua, as vrea sa confirm programarea de marti. Multumesc.", "routine", None),
    ("Va multumesc mult pentru ajutor", "routine", None),
    ("As vrea sa intreb despre evaluarea de ingrijire a mamei mele", "routine", None),
    # Welsh
    ("Mae fy chwaer wedi torri ei hun a mae hi'n gwaedu lot, y gwaed ddim yn stopio",
     "emergency", "suicide_self_harm"),
    ("Mae Mam wedi cymryd y tabledi i gyd a dwi methu ei deffro hi", "emergency",
     "suicide_self_harm"),
    ("Mae Nain ar y llawr ers neithiwr, y carer heb ddod a mae hi ar ben ei hun", "emergency",
     "neglect"),
    ("Mae gan Taid dementia, mae o wedi crwydro allan yn ei byjamas yn yr oerfel", "emergency",
     None),
    ("Mae fy ngŵr yn fy nharo i nawr, wedi dweud bydd e'n fy lladd i heno", "emergency",
     "domestic"),
    ("Mae fy rhieni yn gorfodi fi i briodi, awyren fory", "emergency", "domestic"),
    ("Mae Dad ar y ffôn efo heddwas ffug nawr yn tynnu arian allan", "emergency", "financial"),
    ("Ogla nwy yn nhŷ'r cymydog a dydy hi ddim yn ateb y drws ers dyddiau", "emergency", None),
    ("Bore da, eisiau cadarnhau fy apwyntiad dydd Mawrth. Diolch.", "routine", None),
    ("Diolch yn fawr iawn am eich help", "routine", None),
    ("Dwi methu symud yr apwyntiad, allwch chi ffonio fi?", "routine", None),
]


@pytest.mark.parametrize(("text", "urgency", "category"), CASES)
def test_everyday_emergencies_in_other_languages(text: str, urgency: str,
                                                 category: str | None) -> None:
    result = screen_text(text)
    assert result.urgency == urgency, (text, result)
    if category is not None:
        assert category in result.safeguarding, (text, result)
    if urgency == "routine":
        assert not result.safeguarding, (text, result)
