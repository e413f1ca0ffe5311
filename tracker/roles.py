"""Who acts and who is acted upon: rule-based roles for the entities of one English sentence.

Pure Python (no parser is available, and none is trained): the rules read the words
around each mention, with every mention masked as ``ENT`` so that patterns can skip
over other names.

- ``actor``: a regulator or government body that is the subject of a verb ("the PBOC
  cut", "SAMR fined", "the NFRA will", "an NFRA official said", "..., the CBIRC said")
  or the agent of a passive ("was fined by SAMR", "rules issued by the NFRA"); a lender
  that is the subject of an action of its own ("WeBank cut its rates", "Du Xiaoman is
  applying for a licence", "X said it had cut ...");
- ``target``: an entity that is the object of a policy verb whose subject is a regulator
  ("SAMR fined Meituan", "regulators halted Ant's listing", "ordered X to") or the subject
  of a passive policy verb ("Ant was fined", "Ant's listing was halted");
- ``None``: anything else -- a lender reporting results ("WeBank said profit rose"),
  names after a preposition ("a unit of Ant", "talks with the NFRA"), modifiers
  ("Tencent-backed"), former names ("formerly known as PPDai").

Coordinated names ("the CBIRC and the PBOC jointly summoned") share one role.
"""

from __future__ import annotations

import re

ACTOR, TARGET = "actor", "target"
_AUTHORITY_LABELS = {"REGULATOR", "GOVERNMENT"}

# Verbs an authority acts with (past, present and bare forms are spelled out).
_POLICY_VERBS = r"""
said|says|say|announced|announces|ordered|orders|issued|issues|fined|fines|summoned|summons|approved|approves
|allowed|allows|cut|cuts|lowered|lowers|raised|raises|urged|urges|banned|bans|capped|caps|required|requires
|told|tells|instructed|instructs|warned|warns|launched|launches|released|releases|published|publishes
|unveiled|unveils|set|sets|revoked|revokes|suspended|suspends|halted|halts|granted|grants|imposed|imposes
|introduced|introduces|tightened|tightens|eased|eases|asked|asks|pledged|pledges|vowed|vows|called|calls
|decided|decides|drafted|drafts|proposed|proposes|rolled|rolls|reviewed|reviews|met|meets|took|takes
|replaced|replaces|investigated|investigates|probed|probes|penalised|penalized|punished|punishes
|criticised|criticized|rejected|rejects|confirmed|confirms|guided|guides|encouraged|encourages
|supported|supports|restricted|restricts|limited|limits|stopped|stops|closed|closes|shut|shuts|removed
|removes|named|names|opened|opens|kept|keeps|left|held|holds|injected|injects|provided|provides|allocated
|allocates|signalled|signaled|signals|stressed|stresses|reiterated|reiterates|promised|promises|added
|adds|noted|notes|stated|states|declared|declares|reported|reports|mandated|mandates|banned|barred|bars
|cracked|cracks|moved|moves|plans|planned|aims|aimed|wants|wanted|seeks|sought|expects|expected|vetted
|licensed|licenses|approve|issue|cut|lower|raise|set|launch|ban|require|allow|publish|release|review
|merged|merges|accepted|accepts|inspected|inspects|summarised|revised|revises|amended|amends|cancelled
|canceled|announce|extended|extends|expanded|expands|targeted|targets|blacklisted|reprimanded|questioned
|sued|sentenced|ruled|rules|upheld|dismissed|detained|arrested|charged|raided
"""
_POLICY_VERBS = "|".join(w for w in re.split(r"[|\s]+", _POLICY_VERBS) if w)

# Verbs of a lender doing something itself ("reported", "said" alone do not count).
_LENDER_ACTIONS = r"""
cut|cuts|trimmed|trims|lowered|lowers|raised|raises|launched|launches|expanded|expands|applied|applies
|shelved|shelves|injected|injects|lent|lends|sold|sells|bought|buys|acquired|acquires|suspended|suspends
|stopped|stops|halted|halts|resumed|resumes|tightened|tightens|loosened|loosens|scaled|scales|wound|winds
|pulled|pulls|withdrew|withdraws|entered|enters|opened|opens|filed|files|agreed|agrees|paid|pays|paying
|invested|invests|partnered|partners|priced|prices|offered|offers|introduced|introduces|rolled|rolls
|moved|moves|applying|cutting|raising|expanding|launching|issuing|issued|issues|denied|denies|renamed
|renames|sued|sues|plans|planned|aims|aimed|set|sets|reduced|reduces|increased|increases|slashed|slashes
|boosted|boosts|extended|extends|stepped|steps|ramped|ramps|returned|returns|joined|joins|signed|signs
|won|wins|obtained|obtains|received|receives|repaid|repays|securitised|securitized|listed|lists
|delisted|exited|exits|quit|quits|closed|closes|shut|shuts|halved|halves|doubled|doubles|tripled
"""
_LENDER_ACTIONS = "|".join(w for w in re.split(r"[|\s]+", _LENDER_ACTIONS) if w)

# Policy verbs that make their object (or passive subject) a target.
_TARGET_VERBS = r"""
fined|fines|fining|summoned|summons|summoning|ordered|orders|ordering|told|tells|telling|banned|bans
|barred|bars|halted|halts|halting|suspended|suspends|suspending|approved|approves|approving|allowed
|allows|permitted|permits|granted|grants|granting|revoked|revokes|warned|warns|warning|criticised
|criticized|criticises|criticizes|investigated|investigates|investigating|probed|probes|penalised
|penalized|punished|punishes|urged|urges|urging|asked|asks|instructed|instructs|required|requires
|directed|directs|forced|forces|named|names|blacklisted|inspected|inspects|sued|sentenced|targeted
|targets|questioned|reprimanded|restricted|restricts|capped|caps|rejected|rejects|cancelled|canceled
|closed|closes|shut|shuts|placed|placing|put|referred|accused|accuses|raided|licensed|licenses
|stopped|stops|blocked|blocks|met|meets|meeting|called|calls|fined|hit|hits|singled|subjected
|prohibited|prohibits|forbade|forbids|removed|removes|took|takes|reined|reins|ruled|scrutinised
|scrutinized|allowing|permitting|requiring|asking|forcing|banning|barring|directing|instructing|capping
|restricting|penalising|penalizing|punishing|criticising|criticizing|naming|blacklisting|inspecting|suing
|targeting|questioning|reprimanding|rejecting|cancelling|canceling|closing|shutting|prohibiting|removing
|putting|referring|accusing|raiding|licensing|stopping|blocking|revoking|forbidding
"""
_TARGET_VERBS = "|".join(w for w in re.split(r"[|\s]+", _TARGET_VERBS) if w)

_ENT = "ENT"
_W = r"[\w'’\-%.,]+"

# After a mention: skip an apposition or relative clause, or a parenthesis.
_APPOSITION = (
    r"(?:\s*\([^()]{0,80}\))?"
    r"(?:\s*,\s*(?:which|who|whose|that|the|a|an|its|their|one|formerly|previously|now|once|based|backed"
    r"|owned|controlled|known|together|along|itself|as|also|set|founded|part|like|unlike|then|still|China's|a\s+unit)"
    r"\b[^,;]{0,120},)?"
)
# People and parts of a body between it and its verb: "an NFRA official", "CBIRC chairman Guo Shuqing",
# "the State Council executive meeting on Friday", "the Politburo meeting in July 2024".
_BODY_PART = (
    r"(?:\s+(?:official|officials|spokesman|spokeswoman|spokesperson|chairman|chairwoman|chair|governor"
    r"|deputy\s+governor|head|chief|director|deputy\s+director|minister|vice\s+minister|president"
    r"|executive\s+meeting|meeting|session|plenary\s+session|standing\s+committee|board|leadership"
    r"|officers|inspectors|staff|branch|office|bureau|department|team|executives?)"
    r"(?:\s+(?:[A-Z][\w\-]+)){0,3})?"
)
_TIME = (
    r"(?:\s*,?\s+(?:on|in|at|last|this|earlier|late|early)\s+(?:the\s+)?(?:[A-Z]\w+|\d{1,2}|week|month|year|weekend"
    r"|morning|afternoon|evening|night)(?:\s+(?:\d{1,2}|\d{4}|[A-Z]\w+))?(?:\s+\d{4})?)?"
)
_ADVERBS = (
    r"(?:\s+(?:has|have|had|will|would|shall|should|must|may|might|can|could|(?:is|are|was|were)(?=\s+\w+ing\b)|also|jointly"
    r"|again|both|each|all|together|recently|repeatedly|further|previously|earlier|formally|officially|not"
    r"|never|already|now|then|just|still|quickly|separately|reportedly|on\s+\w+day|this\s+week|last\s+week"
    r"|finally|first|once|it|is\s+to|are\s+to|plans\s+to|planned\s+to|intends\s+to|expected\s+to"
    r"|set\s+to|likely\s+to|going\s+to|about\s+to|moved\s+to|sought\s+to|agreed\s+to|wants\s+to|decided\s+to"
    r"|n't))*"
)
_MODAL = re.compile(r"\s+(?:will|shall|would|is\s+to|are\s+to|must|should|plans\s+to|intends\s+to|has\s+decided\s+to|have\s+decided\s+to|is\s+expected\s+to|are\s+expected\s+to)\s+\w+", re.I)


# "the FSDC under the State Council said": a body attached to another one
_ATTACHED = r"(?:\s+(?:under|of|at|within)\s+(?:the\s+)?ENT)?"


def _after(verbs: str) -> re.Pattern[str]:
    return re.compile(_APPOSITION + _ATTACHED + _BODY_PART + _TIME + _ADVERBS + rf"\s+(?:{verbs})\b", re.I)


_SUBJECT_OF_POLICY = _after(_POLICY_VERBS)
_SUBJECT_OF_ACTION = _after(_LENDER_ACTIONS)
_SUBJECT_MODAL = re.compile(
    _APPOSITION + _ATTACHED + _BODY_PART + _TIME + r"(?:\s+(?:also|jointly|again|both|each|not|further))*" + _MODAL.pattern,
    re.I,
)
# "X said it had cut ...", "X said on Monday that it would raise ..."
_SAID_IT_ACTS = re.compile(
    _APPOSITION + r"\s+(?:said|says|announced|confirmed)" + _TIME + r"(?:\s+that)?\s+(?:it|they)" + _ADVERBS
    + rf"\s+(?:{_LENDER_ACTIONS})\b",
    re.I,
)
_PASSIVE = re.compile(
    # "Ant's listing was halted" (but in "Baidu's Du Xiaoman was barred" the role is Du Xiaoman's)
    r"(?:\s*['’]s?\s+(?:(?!ENT\b)[\w\-]+\s+){0,4}?(?!ENT\b)[\w\-]+)?" + _APPOSITION
    + r"\s+(?:was|were|is|are|has\s+been|have\s+been|had\s+been|will\s+be|would\s+be|could\s+be|may\s+be"
    + r"|might\s+be|is\s+being|are\s+being|was\s+being|were\s+being|got|gets|get|being)"
    + r"(?:\s+(?:also|again|later|then|first|formally|officially|reportedly|recently|now|jointly|\w+ly))?"
    + rf"\s+(?:{_TARGET_VERBS})\b",
    re.I,
)
# "... issued by the", "was fined 18.2 billion yuan by": the agent of a passive.
_AGENT_BEFORE = re.compile(r"\b(?:by|from)\s+(?:the\s+)?(?:(?:joint|combined)\s+\w+\s+of\s+(?:the\s+)?)?$", re.I)
_PARTICIPLE_NEAR = re.compile(r"\b(?:\w+ed|\w+en|set|cut|put|shut|held|made|sent|told|led|run|met|built|brought|taken|given|drawn|laid)\b", re.I)
# An active policy verb a few words before the mention: "fined ", "summoned ", "granted licences to ",
# "approved a capital increase at ", "warned that ", "ordered app stores to stop lending to ".
_OBJECT_BEFORE = re.compile(
    rf"\b(?P<verb>{_TARGET_VERBS})(?:\s+(?:[\w'’\-]+)){{0,6}}?\s+(?:(?:to|at|of|on|against|into|that|over|with|from|for)\s+)?(?:the\s+)?$",
    re.I,
)
# "opened an investigation into", "a fine on", "the crackdown on": an action noun before its target.
_ACTION_NOUN_BEFORE = re.compile(
    r"\b(?P<verb>investigations?|probes?|inquiry|inquiries|inspections?|crackdown|penalt(?:y|ies)|fines?|sanctions?"
    r"|scrutiny|rectification|review|ban|curbs?|restrictions?|measures)\s+(?:into|on|against|of|at)\s+(?:the\s+)?$",
    re.I,
)
# "The 13 platforms summoned included ...", "Those fined were ...": a list of targets.
_TARGET_LIST_BEFORE = re.compile(
    r"\b(?:summoned|fined|named|penalised|penalized|punished|targeted|ordered|told|banned|inspected|investigated"
    r"|criticised|criticized|blacklisted|warned|called\s+in|sanctioned|probed)\b(?:\s+[\w\-]+){0,5}?"
    r"\s+(?:included|include|includes|were|are)\s*:?\s*(?:the\s+)?$",
    re.I,
)
_EXAMPLE_BEFORE = re.compile(r"\b(?:such\s+as|including|like)\s+(?:the\s+)?$", re.I)
# Words before a mention that make it no subject and no object.
_PREPOSITION_BEFORE = re.compile(
    r"\b(?:of|under|with|to|at|in|for|into|on|about|against|from|through|via|between|among|than|like"
    r"|unlike|including|includes|include|as|known\s+as|formerly|previously|renamed|called|named|former|ex|once)"
    r"\s+(?:the\s+|a\s+|an\s+|its\s+|their\s+)?$",
    re.I,
)
_MODIFIER_AFTER = re.compile(r"^(?:-|\u2013)\w|^\s+(?:unit|subsidiary|affiliate|arm|parent|shareholder|stake|app|platform|product|users|customers|borrowers|shares?|stock|bonds?)\b", re.I)
_GENERIC_AUTHORITY = re.compile(
    r"\b(?:regulators?|authorities|watchdogs?|central\s+bank|court|courts|police|government|officials|cabinet"
    r"|Beijing|ministry|commission|bureau|supervisors?|prosecutors)\b"
    r"(?:\s+(?:have|has|had|also|jointly|again|repeatedly|on\s+\w+day))*\s*$",
    re.I,
)
_COORDINATION = re.compile(r"^\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*/\s*|\s*&\s*)(?:the\s+)?$", re.I)
_CLAUSE_BREAK = re.compile(r"[;:]|\.\s|,\s+(?:while|but|whereas|although|and\s+(?:the|its|their|it|they))\b", re.I)


def _masked(text: str, mentions: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The sentence with every mention replaced by ``ENT``, and each mention's new span."""
    out, spans, pos = [], [], 0
    for start, end, _ in mentions:
        out.append(text[pos:start])
        new_start = sum(len(p) for p in out)
        out.append(_ENT)
        spans.append((new_start, new_start + len(_ENT)))
        pos = end
    out.append(text[pos:])
    return "".join(out), spans


def _groups(masked: str, spans: list[tuple[int, int]]) -> list[list[int]]:
    """Mentions joined by "and", commas or slashes ("the PBOC, CBIRC, CSRC and SAFE")."""
    groups: list[list[int]] = []
    for i, (start, _) in enumerate(spans):
        if groups and _COORDINATION.match(masked[spans[groups[-1][-1]][1]:start]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _clause_start(masked: str, pos: int) -> int:
    start = 0
    for m in _CLAUSE_BREAK.finditer(masked, 0, pos):
        start = m.end()
    return start


def _authority_before(masked: str, labels: list[str], spans: list[tuple[int, int]], verb_start: int, clause: int) -> bool:
    """Is the verb at ``verb_start`` said by a regulator (a mention or a word like "regulators")?"""
    head = masked[clause:verb_start]
    if _GENERIC_AUTHORITY.search(head):
        return True
    for (s, e), label in zip(spans, labels):
        if clause <= s and e <= verb_start and label in _AUTHORITY_LABELS:
            between = masked[e:verb_start]
            if len(between) <= 140 and not re.search(r"\b(?:that|which|who)\b", between):
                return True
    return False


def assign_roles(text: str, mentions: list[tuple[int, int, str]]) -> list[str | None]:
    """``actor``, ``target`` or None for each ``(start, end, label)`` mention of ``text``
    (offsets into ``text``, in order, not overlapping)."""
    if not mentions:
        return []
    order = sorted(range(len(mentions)), key=lambda i: mentions[i][0])
    ordered = [mentions[i] for i in order]
    masked, spans = _masked(text, ordered)
    labels = [m[2] for m in ordered]
    result: list[str | None] = [None] * len(ordered)
    for group in _groups(masked, spans):
        first, last = spans[group[0]], spans[group[-1]]
        before, after = masked[:first[0]], masked[last[1]:]
        clause = _clause_start(masked, first[0])
        group_labels = {labels[i] for i in group}
        authority = bool(group_labels & _AUTHORITY_LABELS)
        role = None
        obj = _OBJECT_BEFORE.search(masked, clause, first[0])
        if _MODIFIER_AFTER.match(after):
            role = None
        elif _AGENT_BEFORE.search(before) and _PARTICIPLE_NEAR.search(before[max(clause, len(before) - 90):]):
            role = ACTOR if authority else None
        elif obj and _authority_before(masked, labels, spans, obj.start("verb"), clause):
            role = TARGET
        elif (noun := _ACTION_NOUN_BEFORE.search(masked, clause, first[0])) and _authority_before(
            masked, labels, spans, noun.start("verb"), clause
        ):
            role = TARGET
        elif _TARGET_LIST_BEFORE.search(masked, clause, first[0]):
            role = TARGET
        elif _EXAMPLE_BEFORE.search(before[-30:]) and _PASSIVE.match(after):
            role = TARGET  # "lenders such as X and Y were told to ..."
        elif _PREPOSITION_BEFORE.search(before[-40:]):
            role = None
        elif _PASSIVE.match(after):
            role = TARGET
        else:
            if authority and (_SUBJECT_OF_POLICY.match(after) or _SUBJECT_MODAL.match(after)):
                role = ACTOR
            elif not authority and (
                _SUBJECT_OF_ACTION.match(after) or _SUBJECT_MODAL.match(after) or _SAID_IT_ACTS.match(after)
            ):
                role = ACTOR
        for i in group:
            result[i] = role
    out: list[str | None] = [None] * len(mentions)
    for rank, i in enumerate(order):
        out[i] = result[rank]
    return out
