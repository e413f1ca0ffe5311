"""Roles: whether a sentence shows an entity acting (``actor``) or acted upon (``target``).

The sentences are our own, written before the rules were run on them; the gold-set
role accuracy is gated in ``test_entity_quality.py``.
"""

import pytest

from tracker import roles
from tracker.nlp import get_nlp, sentence_records

A, T, N = "actor", "target", None

CASES = [
    ("The NFRA fined Lexin 2 million yuan for misleading loan advertisements.", {"NFRA": A, "Lexin": T}),
    ("Qudian was ordered by the Shanghai Financial Regulatory Bureau to stop lending to students.",
     {"Qudian": T, "Shanghai Financial Regulatory Bureau": A}),
    ("WeBank cut the rate on Weilidai loans to 7.2% in March.", {"WeBank": A, "Weilidai": N}),
    ("Regulators summoned executives of Du Xiaoman and Qifu Technology on Tuesday.", {"Du Xiaoman": T, "Qifu Technology": T}),
    ("The PBOC said on Friday it would keep the loan prime rate unchanged.", {"PBOC": A}),
    ("FinVolution reported a 12% rise in revenue for the quarter.", {"FinVolution": N}),
    ("The State Council approved a plan to expand consumer credit.", {"State Council": A}),
    ("Lufax, which is controlled by Ping An, was told by the CBIRC to cut its guarantee fees.",
     {"Lufax": T, "Ping An": N, "CBIRC": A}),
    ("Ant Group's credit business was placed under the supervision of the PBOC.", {"Ant Group": T, "PBOC": N}),
    ("The CSRC and the NFRA jointly issued rules on asset-backed securities backed by consumer loans.", {"CSRC": A, "NFRA": A}),
    ("Shares of JD.com rose after the Ministry of Commerce announced new trade-in subsidies.",
     {"JD.com": N, "Ministry of Commerce": A}),
    ("Meituan launched a new credit product for delivery riders.", {"Meituan": A}),
    ("SAMR opened an antitrust investigation into Alibaba in December 2020.", {"SAMR": A, "Alibaba": T}),
    ("An official at the People's Bank of China said consumer lending would be supported.", {"People's Bank of China": N}),
    ("Analysts expect Xiaomi Consumer Finance to grow faster than Mashang Consumer Finance.",
     {"Xiaomi Consumer Finance": N, "Mashang Consumer Finance": N}),
    ("The Supreme People's Court lowered the cap on private lending rates in 2020.", {"Supreme People's Court": A}),
    ("Zhaolian Consumer Finance raised its registered capital to 10 billion yuan.", {"Zhaolian Consumer Finance": A}),
    ("Baidu's Du Xiaoman has been barred from issuing new cash loans.", {"Baidu": N, "Du Xiaoman": T}),
    ("The Ministry of Finance will pay interest subsidies through banks such as ICBC and CCB.",
     {"Ministry of Finance": A, "ICBC": N, "CCB": N}),
    ("The CBIRC warned Qifu Technology about its collection practices.", {"CBIRC": A, "Qifu Technology": T}),
    ("In its annual report, WeBank said it served more than 400 million people.", {"WeBank": N}),
    ("The NDRC, the Ministry of Commerce and the PBOC will coordinate the consumption plan.",
     {"NDRC": A, "Ministry of Commerce": A, "PBOC": A}),
    ("Ping An Puhui scaled back lending to small business owners last year.", {"Ping An Puhui": A}),
    ("Tencent-backed WeBank posted higher profit.", {"Tencent": N, "WeBank": N}),
    ("Lenders such as Lexin and Jiayin were told to stop charging membership fees.", {"Lexin": T, "Jiayin": T}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_roles_in_the_pipeline(text, expected):
    mentions = {m.text: m for s in sentence_records(get_nlp("en")(text)) for m in s.mentions}
    assert {name: mentions[name].role for name in expected} == expected


def test_roles_of_names_the_fallback_found():
    text = "The Yunnan Local Financial Supervision Bureau ordered Kunming Lianfa Microloan to suspend new lending."
    found = [(m.text, m.label, m.id, m.source, m.role) for s in sentence_records(get_nlp("en")(text)) for m in s.mentions]
    assert found == [
        ("Yunnan Local Financial Supervision Bureau", "REGULATOR", None, "model", "actor"),
        ("Kunming Lianfa Microloan", "LENDER", None, "model", "target"),
    ]


def test_assign_roles_takes_offsets_in_any_order():
    text = "SAMR fined Meituan."
    assert roles.assign_roles(text, [(11, 18, "LENDER"), (0, 4, "REGULATOR")]) == ["target", "actor"]
    assert roles.assign_roles(text, []) == []
