"""Titles and descriptions for the demo metadata (written for this project).

``KEPT_TEXTS`` are everyday, observational videos in the eight kept languages. They deliberately
avoid every word a curation filter looks for: no game, film, cartoon or artist names, no "official",
"music video", "trailer", and no tutorial vocabulary ("how", "learn", "guide", "tips", "easy",
"make", "build", "step", "lesson", "review", ...). Stage 1's test runs the real filter on them.

``REJECTED_TEXTS`` each trip exactly one stage-1 rule, named by the rule key they are meant for;
earlier rules in the paper's order (duration, language, category) are satisfied on purpose so the
intended rule is the first one that rejects the row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    language: str  # ISO 639-1 code the text is written in
    category: str  # YouTube category name
    title: str
    description: str


# Everyday videos that every stage-1 rule should keep (given a duration of 30-597 s).
KEPT_TEXTS: tuple[Text, ...] = (
    # English
    Text(
        "en",
        "Travel & Events",
        "Harbour walk at sunset",
        "A quiet evening along the old harbour. Fishing boats come back in, seagulls circle over the pier and the lighthouse switches on.",
    ),
    Text(
        "en",
        "Pets & Animals",
        "Our grey cat meets the new puppy",
        "The first afternoon with both of them at home. Lots of sniffing, one hiss, and then a nap on the same blanket.",
    ),
    Text(
        "en",
        "Autos & Vehicles",
        "Vintage tractor parade in the village",
        "Every summer the farmers drive their restored tractors through the village square. Loud engines, proud owners and a lot of smoke.",
    ),
    Text(
        "en",
        "Science & Technology",
        "Time lapse of clouds over the valley",
        "We left a camera on the balcony for six hours. Watch the weather roll in from the west and the light change over the fields.",
    ),
    Text(
        "en",
        "Sports",
        "Saturday morning rowing on the river",
        "Our club crew on the water before breakfast. Calm river, cold air and a steady rhythm all the way to the bridge.",
    ),
    Text(
        "en",
        "People & Blogs",
        "A rainy day at the tulip market",
        "Wandering between the stalls with an umbrella, buying tulips and talking to the sellers about the spring season.",
    ),
    # Spanish
    Text(
        "es",
        "Travel & Events",
        "Paseo por el casco antiguo de Toledo",
        "Caminamos por las calles estrechas de la ciudad, visitamos la catedral y terminamos el día con vistas al río Tajo.",
    ),
    Text(
        "es",
        "Pets & Animals",
        "Mi perro descubre la nieve por primera vez",
        "Nuestro perro nunca había visto la nieve. Corre, salta y intenta morder los copos que caen del cielo.",
    ),
    Text(
        "es",
        "Sports",
        "Carrera popular por la costa de Valencia",
        "Más de dos mil corredores salieron temprano por el paseo marítimo. El ambiente en la meta fue increíble.",
    ),
    Text(
        "es",
        "People & Blogs",
        "Una tarde tranquila en el pueblo de mis abuelos",
        "Volvimos al pueblo después de muchos años. Hablamos con los vecinos, comimos en la plaza y vimos atardecer en el campo.",
    ),
    # Portuguese
    Text(
        "pt",
        "Travel & Events",
        "Passeio de barco pelo rio Douro",
        "Um dia inteiro navegando entre as vinhas do Douro, com paragens nas aldeias e um almoço à beira do rio.",
    ),
    Text(
        "pt",
        "Pets & Animals",
        "Os papagaios do nosso quintal",
        "Todas as manhãs um grupo de papagaios vem comer as frutas da árvore do quintal. Eles fazem muito barulho!",
    ),
    Text(
        "pt",
        "Sports",
        "Treino de surfe na praia de Peniche",
        "As ondas estavam perfeitas hoje e a equipa passou a manhã inteira no mar. A água estava gelada, mas ninguém quis sair.",
    ),
    Text(
        "pt",
        "People & Blogs",
        "Almoço de domingo em casa da avó",
        "A família toda reuniu-se à mesa, houve bacalhau, muitas conversas e gargalhadas até ao fim da tarde.",
    ),
    Text(
        "pt",
        "Travel & Events",
        "Um passeio pelas ruas de Salvador",
        "Caminhamos pelo Pelourinho, ouvimos os tambores nas praças e experimentamos acarajé numa barraca da esquina.",
    ),
    # French
    Text(
        "fr",
        "Travel & Events",
        "Balade dans les ruelles de Lyon",
        "Une journée à marcher dans le vieux Lyon, entre les traboules, les petites places et les quais de la Saône.",
    ),
    Text(
        "fr",
        "Pets & Animals",
        "Les chèvres de la ferme voisine",
        "Chaque matin, les chèvres du voisin viennent saluer les enfants près de la clôture. Elles adorent les feuilles de pommier.",
    ),
    Text(
        "fr",
        "Autos & Vehicles",
        "Rassemblement de vieilles voitures en Bretagne",
        "Plus de cent anciennes voitures se sont retrouvées sur le port ce week-end. Les propriétaires racontent leurs restaurations.",
    ),
    Text(
        "fr",
        "People & Blogs",
        "Une matinée au marché de Provence",
        "Nous avons flâné entre les étals de fruits, de fromages et de lavande, sous un soleil déjà très chaud.",
    ),
    # German
    Text(
        "de",
        "Travel & Events",
        "Wanderung am Königssee im Herbst",
        "Wir sind früh am Morgen losgegangen und haben den ganzen Tag die bunten Wälder und das klare Wasser des Sees genossen.",
    ),
    Text(
        "de",
        "Pets & Animals",
        "Unsere Hühner im Garten",
        "Die Hühner laufen den ganzen Tag frei im Garten herum, scharren in der Erde und legen jeden Morgen frische Eier.",
    ),
    Text(
        "de",
        "Science & Technology",
        "Gewitter über der Stadt in Zeitraffer",
        "Vom Dach unseres Hauses haben wir das Gewitter über der Stadt gefilmt. Die Blitze und Wolken sind beeindruckend.",
    ),
    Text(
        "de",
        "Sports",
        "Radtour entlang der Mosel",
        "Drei Tage mit dem Fahrrad an der Mosel entlang, vorbei an Weinbergen, kleinen Dörfern und alten Burgen.",
    ),
    # Russian
    Text(
        "ru",
        "Travel & Events",
        "Прогулка по набережной Санкт-Петербурга",
        "Белые ночи, разводные мосты и тихая вода Невы. Мы гуляли до самого утра и смотрели на город.",
    ),
    Text(
        "ru",
        "Pets & Animals",
        "Наш кот и зимнее солнце",
        "Каждое утро кот ложится на подоконник и греется на солнце. Иногда он смотрит на птиц за окном.",
    ),
    Text(
        "ru",
        "Sports",
        "Лыжная прогулка в подмосковном лесу",
        "Выходные на лыжах среди высоких елей. Морозный воздух, скрип снега и горячий чай в термосе.",
    ),
    Text(
        "ru",
        "People & Blogs",
        "Воскресенье на даче у бабушки",
        "Собирали яблоки, топили баню и долго разговаривали на веранде. Очень тёплый и спокойный день.",
    ),
    # Japanese
    Text(
        "ja",
        "Travel & Events",
        "京都の朝の散歩",
        "早朝の京都を歩きました。静かなお寺と石畳の道、川沿いの桜並木がとてもきれいでした。",
    ),
    Text(
        "ja",
        "Pets & Animals",
        "うちの柴犬と海辺の散歩",
        "週末に柴犬を連れて海辺を散歩しました。波を追いかけたり、砂浜を走り回ったりして楽しそうでした。",
    ),
    Text(
        "ja",
        "Science & Technology",
        "夜空の星をタイムラプスで撮影",
        "山の上で一晩中カメラを回して、星の動きを撮影しました。天の川がはっきり見えました。",
    ),
    Text(
        "ja",
        "People & Blogs",
        "雨の日の商店街",
        "雨の日に地元の商店街を歩きました。八百屋さんやパン屋さんと話しながら、のんびり買い物をしました。",
    ),
    # Korean
    Text(
        "ko",
        "Travel & Events",
        "제주도 해안 도로 드라이브",
        "맑은 날 제주도 해안 도로를 따라 천천히 달렸습니다. 푸른 바다와 돌담길이 정말 아름다웠어요.",
    ),
    Text(
        "ko",
        "Pets & Animals",
        "우리 집 고양이의 하루",
        "아침부터 저녁까지 고양이가 무엇을 하는지 지켜봤습니다. 대부분은 창가에서 햇볕을 쬐며 잠을 잤어요.",
    ),
    Text(
        "ko",
        "Sports",
        "한강에서 아침 자전거 타기",
        "이른 아침 한강 공원을 따라 자전거를 탔습니다. 시원한 바람과 조용한 강변이 정말 좋았습니다.",
    ),
    Text(
        "ko",
        "People & Blogs",
        "시골 할머니 댁에서 보낸 주말",
        "할머니 댁 마당에서 고추를 말리고, 저녁에는 온 가족이 모여 따뜻한 밥을 먹었습니다.",
    ),
)

KEPT_LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "ru", "ja", "fr", "de", "ko")


@dataclass(frozen=True)
class RejectedText:
    rule: str  # the stage-1 rule meant to reject this row (see metadata.RULES)
    text: Text
    duration: int  # seconds (VideoLength is duration + 1)
    note: str = ""  # what makes the row fail, for the ground truth


def _en(category: str, title: str, description: str) -> Text:
    return Text("en", category, title, description)


_PLAIN_EN = _en(
    "People & Blogs",
    "Evening at the lake with friends",
    "We spent the whole evening sitting by the water, talking and watching the ducks until the sun went down.",
)

# Rows that stage 1 must reject, each for one reason.
REJECTED_TEXTS: tuple[RejectedText, ...] = (
    # 1. duration
    RejectedText("duration_short", _PLAIN_EN, 29, "29 s: one second under the 30 s minimum"),
    RejectedText(
        "duration_short",
        _en(
            "Pets & Animals",
            "Hamster on the kitchen table",
            "Our little hamster explores the kitchen table and finds a small piece of apple that was left next to the bread.",
        ),
        8,
        "8 s",
    ),
    RejectedText(
        "duration_long",
        _en(
            "Travel & Events",
            "Full train ride through the Alps",
            "The whole journey from the valley to the pass, filmed from the window seat of the carriage.",
        ),
        598,
        "598 s: one second over the 597 s maximum",
    ),
    RejectedText(
        "duration_long",
        _en(
            "People & Blogs",
            "Three hours of rain on the roof",
            "Rain falling on the tin roof of our cabin for the whole afternoon, recorded without any edits.",
        ),
        10800,
        "three hours",
    ),
    # 2. language (not one of the eight kept languages)
    RejectedText(
        "language",
        Text(
            "it",
            "Travel & Events",
            "Una giornata al mare in Liguria",
            "Siamo andati al mare con la famiglia, abbiamo mangiato la focaccia sulla spiaggia e guardato il tramonto sulle onde.",
        ),
        95,
        "Italian",
    ),
    RejectedText(
        "language",
        Text(
            "nl",
            "Pets & Animals",
            "Onze hond speelt in het park",
            "Elke ochtend gaan we met de hond naar het park. Hij rent achter de eenden aan en zwemt in de vijver.",
        ),
        64,
        "Dutch",
    ),
    RejectedText(
        "language",
        Text(
            "tr",
            "Travel & Events",
            "İstanbul'da boğaz turu",
            "Vapurla boğazda güzel bir gezi yaptık, martılara simit attık ve akşam güneşinin batışını izledik.",
        ),
        120,
        "Turkish",
    ),
    RejectedText(
        "language",
        Text(
            "pl",
            "People & Blogs",
            "Niedziela na działce u dziadków",
            "Zbieraliśmy jabłka w sadzie, piekliśmy kiełbaski przy ognisku i rozmawialiśmy do późnego wieczora.",
        ),
        75,
        "Polish",
    ),
    RejectedText(
        "language",
        Text(
            "id",
            "Travel & Events",
            "Liburan keluarga ke Yogyakarta",
            "Kami mengunjungi candi Borobudur pada pagi hari, lalu makan gudeg dan berbelanja batik di Malioboro. "
            "Perjalanan yang sangat menyenangkan bagi anak-anak.",
        ),
        88,
        "Indonesian",
    ),
    RejectedText(
        "language",
        Text(
            "vi",
            "Travel & Events",
            "Một ngày ở phố cổ Hội An",
            "Chúng tôi đi dạo dọc bờ sông, ngắm đèn lồng và thưởng thức những món ăn đường phố rất ngon.",
        ),
        110,
        "Vietnamese",
    ),
    RejectedText(
        "language",
        Text(
            "sv",
            "Pets & Animals",
            "Våra katter leker i trädgården",
            "Katterna springer omkring i trädgården hela eftermiddagen och klättrar upp i det gamla äppelträdet.",
        ),
        52,
        "Swedish",
    ),
    # 3. category Gaming (the text itself is harmless)
    RejectedText(
        "category_gaming",
        _en(
            "Gaming",
            "Late night session with friends",
            "Three hours with the usual crew, lots of laughing and a surprising ending.",
        ),
        240,
        "YouTubeCategory Gaming",
    ),
    RejectedText(
        "category_gaming",
        _en(
            "Gaming",
            "Speedrun attempt number twelve",
            "Getting closer to the record every evening; this one almost made it.",
        ),
        420,
        "YouTubeCategory Gaming",
    ),
    # 4. Music category + artist name
    RejectedText(
        "music_artist",
        _en(
            "Music",
            "Taylor Swift stadium show crowd singing along",
            "Filmed from the upper seats, the whole stadium singing every word.",
        ),
        210,
        "taylor swift",
    ),
    RejectedText(
        "music_artist",
        _en(
            "Music",
            "Ed Sheeran acoustic set in the park",
            "A surprise open air performance on a warm summer evening, with people sitting on the grass and singing along.",
        ),
        185,
        "ed sheeran",
    ),
    RejectedText(
        "music_artist",
        _en(
            "Music",
            "BTS dance cover by our school club",
            "Our club practised for weeks for the spring festival performance.",
        ),
        200,
        "bts",
    ),
    RejectedText(
        "music_artist",
        _en(
            "Music",
            "Beyonce live concert highlights",
            "The best moments from the concert night, filmed from the front rows while the whole crowd was dancing and singing.",
        ),
        330,
        "beyonce",
    ),
    # 5. gaming / animation / official-video keyword phrases
    RejectedText(
        "keyword_gaming",
        _en(
            "Entertainment",
            "Building a castle in Minecraft",
            "A huge castle with towers, a moat and a secret library, block by block.",
        ),
        300,
        "minecraft",
    ),
    RejectedText(
        "keyword_gaming",
        _en(
            "Entertainment",
            "Fortnite victory royale with the squad",
            "Last circle, last four players, and we somehow won.",
        ),
        190,
        "fortnite",
    ),
    RejectedText(
        "keyword_gaming",
        _en(
            "Entertainment",
            "Call of Duty highlights from the weekend",
            "The best rounds of the weekend with the usual crew.",
        ),
        260,
        "call of duty",
    ),
    RejectedText(
        "keyword_gaming",
        _en(
            "Entertainment",
            "Our League of Legends tournament final",
            "The final match of our local tournament, with commentary from the team.",
        ),
        540,
        "league of legends",
    ),
    RejectedText(
        "keyword_animation",
        _en(
            "Entertainment",
            "Catching Pokemon in the city park",
            "We walked around the park all afternoon and caught dozens of them.",
        ),
        150,
        "pokemon",
    ),
    RejectedText(
        "keyword_animation",
        _en(
            "Entertainment",
            "Spongebob funniest moments compilation",
            "The scenes that always make our family laugh.",
        ),
        420,
        "spongebob",
    ),
    RejectedText(
        "keyword_animation",
        _en(
            "Entertainment",
            "Top ten anime openings of the year",
            "Our favourite openings of the season, ranked by the whole group.",
        ),
        480,
        "anime",
    ),
    RejectedText(
        "keyword_official_video",
        _en(
            "Entertainment",
            "Paper Lanterns (Official Video)",
            "Filmed on a rooftop at dawn with friends from the neighbourhood.",
        ),
        215,
        "official video",
    ),
    RejectedText(
        "keyword_official_video",
        _en(
            "Music",
            "Northern Lights - Official Music Video",
            "Filmed in the far north during the coldest week of the winter.",
        ),
        240,
        "official music video (Music without an artist name passes rule 4)",
    ),
    # 6. tutorial phrases (matched after stop-word removal and stemming)
    RejectedText(
        "tutorial",
        _en(
            "People & Blogs",
            "Photoshop tutorial: a paper boat poster",
            "Layers, masks and a soft shadow, recorded from my screen with a voice over.",
        ),
        180,
        "photoshop tutorial",
    ),
    RejectedText(
        "tutorial",
        _en(
            "People & Blogs",
            "Excel formulas for a family budget",
            "A spreadsheet for the monthly plan, with totals for food, rent and holidays.",
        ),
        360,
        "excel formulas",
    ),
    RejectedText(
        "tutorial",
        _en(
            "Autos & Vehicles",
            "Screen recording: the dashboard settings of a rental car",
            "Everything you need to set up the navigation and the radio before you drive.",
        ),
        270,
        "screen recording",
    ),
    RejectedText(
        "tutorial",
        _en(
            "People & Blogs",
            "Blender tutorials for the weekend",
            "Three models from one cube with very little clicking.",
        ),
        420,
        "blender tutorials (matches 'blender tutorial' after stemming)",
    ),
)
