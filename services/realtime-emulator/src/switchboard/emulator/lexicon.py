"""The intent scorer's vocabulary: stop words, generic customer-service synonyms, question
phrases (cues), read verbs, generic verbs, and the words around an action that make it a noun,
an adjective or a request. Data only; :mod:`.intent` scores with it."""

from __future__ import annotations

import re

__all__ = [
    "CUES",
    "CUES_MORE",
    "GENERIC_READS",
    "GENERIC_VERBS",
    "ING_COMPLEMENT",
    "LIGHT_VERBS",
    "NAMED_LANGUAGE",
    "NOT_REQUESTS",
    "NOUN_BEFORE",
    "PLAIN_WORDS",
    "QUESTION_RE",
    "READ_ACTIONS",
    "STOP",
    "SYNONYMS",
]

STOP = {
    "a", "an", "the", "to", "of", "for", "and", "or", "in", "on", "at", "by", "with", "my", "me",
    "i", "is", "it", "its", "be", "this", "that", "please", "can", "could", "you", "your", "we",
    "do", "does", "did", "what", "want", "would", "like", "need", "get", "from", "about", "as",
    "are", "was", "were", "will", "just", "hi", "hello", "hey", "thanks", "thank", "some", "any",
    "if", "so", "but", "has", "have", "had", "am", "there", "their", "them", "they", "which",
    "who", "when", "how", "all", "one", "given", "returns", "id", "number", "use", "customer",
    "customer's", "current", "s", "up", "out", "into", "than", "then", "also", "only", "not",
    "i'd", "i'm", "it's", "what's", "where's", "let", "know", "tell", "much", "should", "now",
    "here", "e.g", "such", "whether", "possible", "before", "after", "give", "gives", "yet",
    "our", "us", "been", "being", "see", "say", "said", "ok", "okay", "right", "well",
}  # fmt: skip

#: Generic customer-service words → words tool names and descriptions use.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "where": ("status", "locat"),
    "arriv": ("deliver", "arriv"),
    "come": ("arriv", "deliver"),
    "package": ("shipment", "deliver"),
    "parcel": ("shipment", "deliver", "package"),
    "deliver": ("shipment", "deliver"),
    "courier": ("carrier", "track"),
    "refund": ("return", "refund"),
    "broken": ("return",),
    "damag": ("return",),
    "faulty": ("return",),
    "wrong": ("return",),
    "abort": ("cancel",),
    "human": ("human", "agent", "person"),
    "talk": ("human", "agent"),
    "speak": ("human", "agent"),
    "person": ("human", "agent", "person"),
    "agent": ("human", "agent"),
    "representat": ("human", "agent"),
    "manager": ("human", "agent"),
    "supervis": ("human", "agent"),
    "someone": ("human", "person"),
    "operator": ("human", "agent"),
    "ring": ("call", "phone"),
    "later": ("callback", "call"),
    "email": ("email",),
    "phone": ("phone",),
    "chang": ("chang", "updat"),
    "modif": ("chang", "updat"),
    "edit": ("chang", "updat"),
    "switch": ("chang", "updat"),
    "set": ("chang", "updat"),
    "correct": ("chang", "updat"),
    "fix": ("chang", "updat"),
    "moved": ("address", "chang"),
    "profil": ("account", "detail"),
    "info": ("detail", "account"),
    "history": ("list", "recent"),
    "last": ("recent", "list"),
    "latest": ("recent", "list"),
    "previou": ("recent", "list"),
    "past": ("recent", "list"),
    "bought": ("order", "list"),
    "purchas": ("order", "list"),
    "cost": ("price",),
    "pricey": ("price",),
    "expensiv": ("price",),
    "cheap": ("price",),
    "afford": ("price",),
    "stock": ("stock",),
    "availabl": ("stock",),
    "news": ("status",),
    "progress": ("status",),
    "happen": ("status",),
    # the order's stages, said as a state ("has it been processed", "still pending")
    "process": ("status",),
    "pending": ("status",),
    "packed": ("status",),
    "dispatch": ("status", "ship"),
    "fulfil": ("status",),
    # who carries it and when it comes: the shipment's words
    "haulier": ("carrier", "track"),
    "firm": ("carrier",),
    "driver": ("deliver", "track"),
    "trace": ("track",),
    "eta": ("deliver", "arriv"),
    # the caller's own details, in everyday words
    "surname": ("name", "account"),
    "maiden": ("name", "account"),
    "mobile": ("phone",),
    "inbox": ("email",),
    # money back, and what makes people send things back
    "reimburs": ("refund", "return"),
    "credit": ("refund",),
    "cash": ("refund",),
    "suitabl": ("return",),
    "defect": ("return",),
    "rattl": ("return",),
    # stopping an order; a delivery's destination
    "halt": ("cancel",),
    "exchang": ("return",),
    "swap": ("return",),
    "destin": ("address",),
    # what a thing costs, whether it can be had
    "spend": ("price",),
    "retail": ("price",),
    # a person with more say, and being fed up with machines
    "senior": ("human", "agent"),
    "superior": ("human", "agent"),
    "boss": ("human", "agent"),
    "authority": ("human", "agent"),
    "colleague": ("human", "agent"),
    "automat": ("human",),
}
#: Question phrases → words the tool that answers them uses (weight 2). A cue marked as an act
#: also stands for the tool's action ("call me back" asks to schedule a callback).
CUES: tuple[tuple[re.Pattern[str], tuple[str, ...], bool], ...] = (
    (
        re.compile(r"\bwho(?:'s| is| will be| will)?\b.{0,30}\b(deliver|bring|carr|ship|handl)"),
        ("carrier", "track"),
        False,
    ),
    (
        re.compile(r"\b(which|what)\s+(?:company|courier|carrier|service)\b"),
        ("carrier", "track"),
        False,
    ),
    (re.compile(r"\btracking\b|\btrack(?:ed)?\b"), ("track",), False),
    (
        re.compile(
            r"\b(which|what)\s+(?:\w+\s+)?orders\b|\bmy\s+(?:\w+\s+)?orders\b"
            r"|\borders\s+(?:have|did|do)\s+i\b"
            r"|\bwhat\s+(?:have|did)\s+i\s+(?:order|buy|bought|purchase|get|got|had|have|receive)"
            r"|\ball\s+(?:of\s+)?my\s+orders\b|\bhow many orders\b"
        ),
        ("list", "recent"),
        False,
    ),
    (re.compile(r"\bwhere(?:'s| is| are)\b.{0,25}\border\b"), ("status",), False),
    (
        re.compile(r"\bwhere(?:'s| is| are)\b.{0,25}\b(package|parcel|shipment)\b"),
        ("track",),
        False,
    ),
    (re.compile(r"\bwhen\b.{0,40}\b(arriv|come|get here|be here|deliver)"), ("deliver",), False),
    (
        re.compile(
            r"\b(has|have|is|was|did)\b.{0,25}\b(ship|shipped|deliver|delivered|arrived|dispatched)\b"
        ),
        ("status",),
        False,
    ),
    (re.compile(r"\bhow much\b|\bprice\b"), ("price",), False),
    (
        re.compile(
            r"^(?!.*\d).*\b(tell me about|looking for"
            r"|do you (?:have|sell|carry|stock)\s+(?:the|a|an|any)\b)"
        ),
        ("product",),
        False,
    ),
    (
        re.compile(
            r"\b(tell me about|what about|how about|details (?:of|on|about))\b.{0,20}\border\b"
        ),
        ("status",),
        False,
    ),
    (re.compile(r"\bin stock\b|\bavailable\b"), ("stock",), False),
    (re.compile(r"\b(an|any|the|for|latest|quick)\s+updates?\b"), ("status",), False),
    (
        re.compile(r"\bwhat(?:'s| is| has been)\s+(?:going on|happening|up|new)\s+with\b"),
        ("status",),
        False,
    ),
    (
        re.compile(r"\b(send|take|bring|give)\s+(?:it|them|this|that|the \w+)?\s*back\b"),
        ("return",),
        True,
    ),
    (re.compile(r"\bmoney back\b|\brefund\b"), ("return", "refund"), True),
    (
        re.compile(
            r"\b(send|ship|deliver)\b.{0,40}\bto\b.{0,20}\b(new|different|other)\s+address"
            r"|\bnew address\b|\bi(?:'ve| have)? moved\b"
            r"|\b(send|ship|deliver)\b.{0,40}\bto\s+\d+\s+[a-z]+"
        ),
        ("address", "chang"),
        True,
    ),
    (
        re.compile(r"\bcall me\b|\bcall (?:me )?back\b|\bcallback\b|\bring me\b|\bphone me\b"),
        ("callback", "call"),
        True,
    ),
    (
        re.compile(
            r"\b(speak|talk)\s+(?:to|with)\s+(?:a|an|some|the|real|your)?\s*"
            r"(human|person|agent|someone|somebody|representative|manager|supervisor|operator)"
            r"|\b(real|live|actual)\s+(person|human|agent)\b|\bhuman\b|\bescalate\b"
        ),
        ("human", "agent"),
        True,
    ),
    (
        re.compile(r"\b(on file|my account|the account|my details|my profile|account details)\b"),
        ("account",),
        False,
    ),
    (
        re.compile(
            r"\b(what|which)\b.{0,25}\b(?:do you have|have you got|you've got|you have|do you keep"
            r"|you keep|do you hold|you hold|have you)\b"
            r".{0,12}\b(?:for|on|about)\s+me\b"
        ),
        ("account",),
        False,
    ),
)
_LANGUAGE_NAMES = (
    r"(?:spanish|french|german|italian|portuguese|english|dutch|polish|chinese|mandarin"
    r"|japanese|korean|arabic|russian|turkish|hindi|swedish|greek)"
)
#: a language named in lower-cased text (group 1: its name)
NAMED_LANGUAGE = re.compile(rf"\b({_LANGUAGE_NAMES})\b")
_PEOPLE = (
    r"(?:human(?: being)?|person|people|agent|someone|somebody|representative|rep|manager"
    r"|supervisor|operator|staff(?: member)?|employee|colleague|advisor|adviser|team leader"
    r"|boss|superior|higher-?up|(?:someone|somebody) (?:senior|more senior|higher up|in charge))"
)
#: Everyday ways of asking for each kind of act or answer, beyond the tools' own words (the
#: generic vocabulary of customer-service calls, not any one tool's). Same shape as ``CUES``.
CUES_MORE: tuple[tuple[re.Pattern[str], tuple[str, ...], bool], ...] = (
    # cancelling
    (
        re.compile(
            r"\b(call(?:ing)? (?:it |them |this |that |the order |order \d+ )?off|scrap|void|withdraw|revoke|rescind|nix|kill|back out of|pull out of"
            r"|pull the plug on|undo)\b"
            r"|\bdrop (?:the |my |this |that )?order\b|\bdrop order\b"
            r"|\b(?:don't|do not|no longer|not) (?:want|need|require|wish to (?:have|keep|receive))\b(?! to\b)"
            r".{0,35}\b(?:order|it|them|items?|things?|anymore|any more)\b"
            r"|\b(?:stop|halt|hold|block|prevent|kill|freeze|intercept)\b.{0,30}"
            r"\b(?:order|it|them|items?)\b.{0,30}\b(?:ship|dispatch|going out|sent|goes out|leav)"
            r"|\b(?:stop|halt|block|prevent|kill|freeze|intercept)\b.{0,40}\bbefore\b.{0,25}"
            r"\b(?:ship|dispatch|go|goes|leav|sent|post|mail)"
            r"|\b(?:never|not) (?:goes|go|get|gets) (?:out|sent|shipped)\b"
            r"|\b(?:no longer|not|isn't|aren't) (?:needed|required|wanted)\b"
            r"|\bbefore (?:it|they|anything|the order|order \d+)(?:'s| is| are| gets?)? (?:ships?|shipped"
            r"|goes out|go out|dispatched|leaves?|sent|posted|goes anywhere)\b"
            r"|\bget rid of\b.{0,30}\bbefore\b"
            r"|\b(?:pretend|as if|as though|act like)\b.{0,12}\bnever\b"
            r".{0,25}\b(?:order|buy|bought|hit|click|place|purchas)"
        ),
        ("cancel",),
        True,
    ),
    # returning
    (
        re.compile(
            r"\b(ship|post|mail|send|bring|give|take|return)\b.{0,25}\bback\b"
            r"|\breturn (?:label|slip|it|them|this|the)\b|\breimburs\w*|\bmoney back\b"
            r"|\b(?:want|like|get) (?:a |my )?refund"
            r"|\b(?:cash|money|funds?|payment) back\b|\brevers\w* (?:the |my |that )?(?:payment|charge)"
            r"|\bcredit(?:ed)? (?:back )?(?:to|on) (?:my|the) (?:card|account)\b|\bcharge-? ?back\b"
            r"|\b(?:have|get|getting|having|send|sending)\s+(?:it|them|this|that|these|those|everything"
            r"|the (?:stuff|items?|things?|goods))\s+back\b(?! to me)"
            r"|\b(?:arrange|book|schedule|organi[sz]e)\s+(?:a |the )?(?:pick-? ?up|collection)\b"
            r"|\btake (?:it|them|this|these) off my hands\b"
            r"|\bback (?:on|onto|to) my (?:card|account|bank)\b|\bfor my money\b"
            r"|\b(?:swap|exchange) (?:it|them|this|these|the \w+)\b"
        ),
        ("return", "refund"),
        True,
    ),
    # a different delivery address
    (
        re.compile(
            r"\b(redirect|re-?rout|divert)\w*"
            r"|\bwrong (?:street|address|postcode|post code|zip|house number)\b"
            r"|\b(?:send|ship|deliver|go|goes|going|headed|sent|delivered)\b.{0,40}"
            r"\b(?:instead|rather than|different (?:address|place)|new (?:address|place|flat|house|home)"
            r"|another address|my (?:office|work|workplace|flat|apartment|new place)"
            r"|(?:her|his|their|my \w+'s) (?:place|house|address|flat)|\w+'s (?:place|house))\b"
            r"|\b(?:change|update|correct|fix|amend|alter) where\b"
            r"|\b(?:new|different|another|other|correct|updated) (?:destination|delivery (?:address|point"
            r"|location)|address)\b"
            r"|\b(?:old|previous|former|wrong) (?:address|apartment|flat|house|place|home|destination)\b"
            r"|\b(?:point|forward|route|direct|steer)\s+(?:it|them|the (?:order|parcel|package)"
            r"|my order|order \d+)\s+(?:at|to|towards)\b"
        ),
        ("address", "chang"),
        True,
    ),
    # the account's language: a language named with a wish about how to be spoken to
    (
        re.compile(
            rf"^(?=.*\b{_LANGUAGE_NAMES}\b)(?=.*\b(?:speak|spoke|talk|contact\w*|email|emails"
            r"|messages?|letters?|prefer\w*|switch|set|make|put|change|default|from now on"
            r"|going forward|instead|language|account|in " + _LANGUAGE_NAMES + r")\b)"
        ),
        ("account", "languag"),
        True,
    ),
    # being called back
    (
        re.compile(
            r"\b(?:call|ring|phone|contact|reach|try|buzz|dial|telephone)\s+me\b"
            r"|\bgive me a (?:call|ring|buzz|bell|shout|phone call|tinkle)\b|\bget back to me\b"
            r"|\b(?:get|have) me on the (?:line|phone|telephone)\b|\bpencil in\b.{0,30}\b(?:call|time)\b"
            r"|\b(?:book|arrange|set up|schedule|organi[sz]e|get|have|request)\s+(?:a |an )?"
            r"(?:phone |telephone )?(?:call|ring)\b(?! (?:off|center|centre))"
            r"|\bring back\b|\bcall-?back\b"
            r"|\b(?:someone|somebody|an agent|one of your \w+|your team)\b.{0,30}"
            r"\b(?:call|ring|phone|buzz|dial)\b"
        ),
        ("callback", "call"),
        True,
    ),
    # a person
    (
        re.compile(
            rf"\b(?:speak|talk|deal)\s+(?:to|with)\s+(?:a|an|some|the|real|your|actual|live)?\s*"
            rf"(?:real |live |actual )?{_PEOPLE}\b"
            rf"|\b(?:need|want|get me|give me|find me|put me on with|ask for)\s+"
            rf"(?:a|an|the|your|to)?\s*(?:real |live |actual )?{_PEOPLE}\b"
            r"|\b(?:real|live|actual) (?:person|human|agent|staff|people)\b"
            r"|\b(?:transfer|put|connect|pass|hand|switch|forward) me (?:over |across )?(?:through|to|on|with)\b"
            r"|\bput me through\b"
            rf"|\b(?:is there|are there|have you got|do you have)\b.{{0,20}}\b{_PEOPLE}\b.{{0,25}}"
            r"\b(?:speak|talk|deal)\b"
            r"|\b(?:hand|pass|transfer)\s+(?:me|this|it|the call|my call|my case)\s+(?:over|through|on)\b"
            r"|\b(?:bump|bumped|kick|kicked|move|moved|pass|passed|send|sent) (?:me |this |it )?up\b"
            r"|\bcomplain\w*|\bin charge\b|\bwho(?:ever)? works (?:there|here|for you)\b"
            r"|\bthis (?:bot|machine|robot)\b|\bflesh and blood\b|\b(?:more|higher|real) authority\b"
            r"|\b(?:automated|robotic) (?:things?|systems?|machines?|voices?|menus?)\b"
            r"|\b(?:round|around|in) (?:in )?circles\b"
            r"|\b(?:someone|somebody|anyone|anybody)\b.{0,50}\bto (?:pick (?:this|it) up"
            r"|take (?:this|it) over|take over|deal with (?:this|it|me)|sort (?:this|it) out|look into)\b"
            rf"|(?:^|[.!?;:]\s+)(?:(?:um|uh|er|so|yeah|yes|hi|hello|ok|okay|just)\W+)*"
            rf"(?:an? |the |your |some )?(?:real |live |human )?{_PEOPLE}\W*"
            r"(?:please|now|right now|asap)?\s*(?:[.!?;]|$)"
        ),
        ("human", "agent"),
        True,
    ),
    # tracking a parcel
    (
        re.compile(
            r"\b(follow|trace)\b.{0,30}\b(parcel|package|shipment|order|delivery|online|box)\b"
            r"|\b(ups|fedex|usps|dhl|royal mail|courier|carrier|delivery company)\b"
            r"|\b(?:shipper|postal (?:service|company)|post office|mail service|haulier|logistics"
            r"|delivery (?:firm|service|driver|van|people))\b"
            r"|\b(?:which|what)\s+(?:\w+\s+)?(?:firm|company|outfit|service|business|people)\b.{0,25}"
            r"\b(?:carry|carrying|handl\w*|deliver\w*|bring\w*|ship\w*|transport\w*|taking)\b"
            r"|\b(?:which|what) (?:town|city|depot|hub|country|state|county|place|location)\b"
            r"|\bwhere (?:the|my|your) (?:van|driver|courier|delivery)\b|\bhow far (?:away|off)\b"
            r"|\b(?:trace|track) (?:it|them|this|that|the (?:parcel|package|box|delivery))\b"
            r"|\beta\b|\bdoorbell\b"
            r"|\b(shipment|shipping|tracking|parcel|consignment|waybill) (?:reference|number|code|id|link)\b"
            r"|\bscan(?:ned|s)?\b|\bin transit\b|\bwhere has it got to\b|\bwhereabouts\b"
        ),
        ("track", "carrier"),
        False,
    ),
    # an order's status
    (
        re.compile(
            r"\bwhere things stand\b|\bwhat stage\b|\bhow(?:'s| is) (?:it|that|(?:my |the )?order)"
            r"(?: \d+)? (?:coming|going|doing)\b|\bcheck(?:ing)? (?:in )?on\b.{0,20}\border\b"
            r"|\blook(?:ing)? up\b.{0,15}\border\b|\bheard nothing\b|\bgo(?:ne)? out yet\b"
            r"|\bstill (?:sitting|waiting|in the warehouse|processing)\b|\bis it moving\b"
            r"|(?<!loyalty )(?<!membership )(?<!member )(?<!account )\bstatus\b|\bon its way\b"
            r"|\b(?:has|have|is|was|been|still|yet)\b.{0,25}\b(?:processed|pending|packed|dispatched"
            r"|fulfill?ed|prepared|picked|handled|confirmed|approved)\b|\bfurther along\b"
            r"|\bprogress\b|\b(?:report|rundown|lowdown|low-down|word|news|latest|movement"
            r"|developments?|updates?) (?:on|with|about)\b"
            r"|\bwhere (?:are we|do we stand|are things|is it at|it's at|it is|it's|they are|they're)\b"
            r"|\bcheck(?:ing)? (?:in )?on\b"
            r"|\b(?:has|have|is|was|did)\b.{0,25}\b(?:left|leave|departed)\b.{0,15}"
            r"\b(?:warehouse|depot|building|you|yet)\b"
            r"|\b(?:far|further) along\b|\b(?:situation|state of play|story|deal) (?:with|on)\b"
            r"|\b(?:anything|something) (?:actually |else )?happen(?:ed|ing)?\b"
        ),
        ("status",),
        False,
    ),
    # the orders one has made
    (
        re.compile(
            r"\border history\b|\bmy\s+(?:\w+\s+)?purchases\b|\b(?:run ?down|list|overview|summary) of "
            r"(?:my |all )?(?:orders|purchases)\b|\borders (?:under|on|in) my (?:name|account)\b"
            r"|\b(?:what|which) orders\b|\borders .{0,25}\bfor me\b|\blist them\b"
            r"|\b(?:bought|ordered|purchased) .{0,30}\b(?:lost track|list|remind)\b"
            r"|\b(?:what|things|stuff|items|everything) (?:i've|i have|i) (?:been )?(?:had|got|getting"
            r"|bought|buying|ordered|ordering|purchased|purchasing)\b"
            r"(?! (?:in|from|with|on) (?:order|that order|the order|my order))"
        ),
        ("list", "recent"),
        False,
    ),
    # a product's price, stock or policy
    (
        re.compile(
            r"\b(?:you |do you )charge for\b|\bset me back\b|\bgoing for\b|\bsold out\b"
            r"|\b(?:what|how much) (?:would|will|do|does|should) (?:i|we|one) (?:pay|have to pay|be paying)\b"
            r"|\bwhat's the damage\b|\bhow (?:pricey|expensive|cheap|dear)\b"
            r"|\b(?:buy|purchase)\s+(?:the|a|an|one|some|any)\b"
            r"|\bcost(?:s)?\b|\bprice\b|\bhow much (?:is|are|for|does|do)\b|\bretail\w*\b"
            r"|\blooking at the\b|\bspecs?\b|\bspecifications?\b"
            r"|\b(?:any|some|many|few)\b.{0,40}\bleft\b|\bstill (?:sell|have|make|stock|carry)\b"
            r"|\b(?:have you got|do you have|got any)\b.{0,40}\bin(?: stock)?"
            r"(?: at the moment| right now| now| yet| today| currently)?\W*$"
            r"|\b(?:get|buy|order|purchase|grab) (?:one|it|them)\b.{0,15}\b(?:from you|today|right now)\b"
            r"|\blooking at (?:spending|paying)\b|\bwhat am i looking at\b|\bhow much (?:would|will) i\b"
            r"|\b(?:information|info|details) (?:on|about) (?:the|a|an|your)\b"
        ),
        ("price", "product"),
        False,
    ),
    # what the shop holds about the caller
    (
        re.compile(
            r"\b(?:details|info|information|data)\b.{0,25}\b(?:holding|keeping|have|hold|got|listed|"
            r"stored)\b.{0,15}\b(?:me|mine)\b"
            r"|\bwhat do you have (?:listed |on file |stored )?(?:for|on|about) me\b"
            r"|\b(?:membership|member|tier|loyalty|account level)\b"
            r"|\b(?:what|which)\b.{0,30}\b(?:have|got|hold|keep)(?: me)?(?: down)? (?:as|for) my\b"
            r"|\bwhat language is my account\b|\bmy (?:info|information|details)\b"
            r"|\b(?:registered|recorded|stored|listed|saved|on (?:file|record|your (?:end|side|system"
            r"|records?|books))) (?:for|on|under|against) me\b"
            r"|\b(?:have|got|put) me down\b|\b(?:registered|recorded|on file|on record|on your (?:end"
            r"|side|system|records?|books))\b.{0,30}\b(?:where i live|my (?:name|address|email|phone))"
            r"|\bwhere i live\b|\bwhen i signed up\b"
        ),
        ("account", "detail"),
        False,
    ),
)

#: Words that would otherwise read as a request, left out before scoring: idioms ("I changed my
#: mind" changes nothing), questions about the bot itself ("are you a real person?", "do you
#: speak French?"), the shop's branches ("a store in London" is no product), a misdialled call
#: ("sorry, wrong number") and times ("last week", "the past few days": when, not "my last
#: orders").
NOT_REQUESTS = re.compile(
    r"\b(?:changed? (?:my|your|our) (?:minds?|plans?)|change of (?:heart|plans?)|never mind"
    r"|by the way)\b"
    r"|\bare you (?:a |an )?(?:real |actual |live )?(?:person|human|bot|robot|machine|computer"
    r"|people)\b"
    rf"|^\W*(?:(?:do|can|could) (?:you|anyone|someone|somebody)(?: there)? (?:speak|understand|talk)"
    rf"|is (?:there )?(?:anyone|someone|somebody)(?: there)? who (?:speaks|understands))"
    rf" {_LANGUAGE_NAMES}\W*$"
    r"|\b(?:an? |any |your )?(?:stores?|shops?|branch(?:es)?|showrooms?|outlets?|offices?)"
    r" (?:in|near|around)\b"
    r"|^\W*(?:(?:oh|sorry|oops)\W+)*(?:i think )?(?:i(?:'ve| have) )?(?:got |dialled |dialed )?"
    r"(?:the |a )?wrong number\W*$"
    r"|\b(?:last|past|previous|this|next|the other)\s+(?:few |couple of |\d+ )?(?:nights?|weeks?"
    r"|weekends?|months?|years?|days?|mornings?|evenings?|hours?|times?|christmas|summer|winter"
    r"|spring|autumn|fall)\b"
)


#: Words used as another part of speech, said plainly: "the latest on my order" is news about
#: it, not "my latest orders".
PLAIN_WORDS = ((re.compile(r"\b(?:the )?latest (on|with|about|for)\b"), r"news \1"),)


#: Read verbs: a tool named with one needs no action word from the caller.
READ_ACTIONS = {
    "get", "check", "list", "show", "find", "lookup", "look", "fetch", "retriev", "read",
    "search", "track", "view", "describ", "query", "status",
}  # fmt: skip
#: Read verbs that say nothing of what is read ("check", "get"): in a tool's name they count as
#: much as a description's word, so "check what details you hold" is not a status check.
GENERIC_READS = {
    "get", "check", "show", "find", "look", "lookup", "fetch", "retriev", "read", "view", "query",
    "describ",
}  # fmt: skip
#: Verbs too generic to be the action of a tool name: the next word is the action.
GENERIC_VERBS = {
    "process", "handle", "manage", "submit", "start", "request", "make", "do", "perform", "run",
    "initiate", "create", "open", "file",
}  # fmt: skip
#: The action said as a noun ("an update", "your return policy") is not a request to do it ...
NOUN_BEFORE = {"a", "an", "any", "the", "your", "some", "no", "latest", "quick", "for"}
#: ... unless a light verb asks for it ("start a return", "make a cancellation").
LIGHT_VERBS = {
    "start", "make", "begin", "open", "file", "request", "do", "process", "initiate",
    "arrange", "submit", "put", "lodge", "place", "raise", "book",
}  # fmt: skip
#: Verbs followed by an -ing verb ("thinking about cancelling" is said with a stop word).
ING_COMPLEMENT = {
    "consider", "considering", "start", "stop", "keep", "try", "trying", "mind", "avoid",
    "finish", "suggest", "recommend", "postpone", "delay", "like", "love", "want",
}  # fmt: skip
QUESTION_RE = re.compile(
    r"(\?|^\s*(what|which|where|when|how|who|is|are|do|does|did|show|tell|list|give)\b"
    r"|\b(do you have|can you tell|let me know|show me|look up)\b)",
    re.I,
)
