"""The emulator's evaluation set: spoken questions over all eleven shop tools, generated from the
seeded data (the same deterministic generator ``switchboard seed`` uses), each with the tool and
arguments a good assistant would call, the voice and speed it is spoken with, and the noise added.

Questions alternate between a **tuning** half and a **held-out** half per tool, and each half has
phrasings of its own: the policy may be tuned on the tuning half; the benchmark reports the
held-out half. The held-out half's misses were seen before rules were written, so it is no longer
blind: a third split, **fresh** (``_FRESH``), has phrasings written afterwards without reading the
policy's source, over orders and customers of their own (appended after the two halves, which
are unchanged). The fresh split has since been used for tuning the policy, so as of 2026-12-04
it is no longer blind either: a fourth split, **fresh2** (``_FRESH2``), has phrasings written on
2026-12-04 without reading the policy's source (nor running the policy on them), over orders and
customers of their own (appended after the fresh split; every earlier question, order, voice and
noise is unchanged). The fresh2 split's phrasings have since been read by the engineer tuning the
policy, so a fifth split, **fresh3** (``_FRESH3``), was **sealed**: its phrasings were written on
2026-12-04 by someone who never read the policy's source. It was appended after fresh2, over
orders and customers of its own, and was sealed until 2026-12-05, when it was opened for
tuning: it is **no longer sealed**. So a sixth split, **fresh4** (``_FRESH4``), is **sealed**
now: its phrasings were written on 2026-12-05 by someone who never read the policy's source (nor
ran the policy with its misses shown), and only its summary figures (right tool, right
arguments, answered right) are to be reported, never its phrasings or misses. It is appended
after fresh3, over orders and customers of its own; every earlier question (split, order,
voice, noise, product) is unchanged. Pure data, no I/O; ``python -m bench.evalset`` prints the
set (fresh4's questions included: do not read them while tuning).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from switchboard.cli.seed import build_dataset

__all__ = ["SEALED", "SPLITS", "VOICES", "Question", "build_questions"]

Split = Literal["tuning", "heldout", "fresh", "fresh2", "fresh3", "fresh4"]
SPLITS: tuple[Split, ...] = ("tuning", "heldout", "fresh", "fresh2", "fresh3", "fresh4")
#: splits whose phrasings and misses are not shown while the policy is tuned: only their summary
#: figures are reported (``bench.eval_typed``, ``bench.bench_emulator_eval``)
SEALED: frozenset[str] = frozenset({"fresh4"})
#: (engine, speed): the packaged piper voice at three speeds, and espeak-ng's.
VOICES: tuple[tuple[str, float], ...] = (
    ("piper", 1.0),
    ("piper", 1.25),
    ("piper", 0.85),
    ("espeak", 1.0),
)
#: None: clean; a number: white noise at that SNR in dB; "phone": 8 kHz G.711 plus 25 dB noise.
NOISES: tuple[float | str | None, ...] = (None, 20.0, None, "phone", 15.0)
YES = "Yes, please."
PER_TOOL = 20
#: questions per tool in the fresh split (as many as the held-out half has)
FRESH_PER_TOOL = 10
#: questions per tool in the fresh2 split (the blind one since the fresh split was tuned on)
FRESH2_PER_TOOL = 10
#: questions per tool in the fresh3 split (sealed on 2026-12-04, opened for tuning on 2026-12-05)
FRESH3_PER_TOOL = 10
#: questions per tool in the sealed fresh4 split (only its summary figures are reported)
FRESH4_PER_TOOL = 10

_NOT_SHIPPED = ("placed", "packed")
_SHIPPED = ("shipped", "out_for_delivery", "delivered", "returned")

#: phrasings per tool: (tuning phrasings, held-out phrasings); {o} order, {p} product
_PHRASINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "check_order_status": (
        (
            "Where is my order {o}?",
            "Any news about order {o}? I'd like an update.",
            "What's going on with order {o}?",
        ),
        ("What's happening with order {o}?", "Has my order {o} shipped yet?"),
    ),
    "track_shipment": (
        ("Who is delivering order {o}?", "What's the tracking number for order {o}?"),
        ("Which courier is bringing order {o}?", "Can I get the tracking for order {o} please?"),
    ),
    "list_recent_orders": (
        ("Which orders have I made?", "What did I order recently?"),
        ("Can you tell me what orders I have?", "What have I bought lately?"),
    ),
    "get_customer_info": (
        (
            "What email do you have on file for me?",
            "What are my account details?",
            "What email have you got on me?",
        ),
        ("Which phone number is on my account?", "What address do you have for me?"),
    ),
    "get_product_info": (
        ("How much are the {p}?", "Are the {p} in stock?"),
        ("What's the price of the {p}?", "Do you have the {p} in stock?"),
    ),
    "process_return": (
        (
            "I want to return order {o}, it doesn't fit.",
            "I'd like my money back for order {o}.",
            "I need to make a return for order {o}.",
        ),
        ("Can I send back order {o}? It arrived damaged.", "Please start a return for order {o}."),
    ),
    "cancel_order": (
        ("Please cancel order {o}.", "I don't need order {o} any more, cancel it please."),
        ("Can you cancel my order {o}?", "I want to cancel order {o}, I ordered it twice."),
    ),
    "update_shipping_address": (
        ("I moved, please change the address for order {o}.",),
        ("Please update the shipping address on order {o}.",),
    ),
    "update_account_info": (
        ("Please change my preferred language to Spanish.",),
        ("Could you set my preferred language to French?",),
    ),
    "schedule_callback": (
        ("Can someone call me back on {day} at 3 pm?",),
        ("Please have an agent ring me on {day} at 11 am.",),
    ),
    "escalate_to_human": (
        ("I want to speak to a person about order {o}.",),
        ("Can I talk to a human agent please? My order {o} never arrived.",),
    ),
}
#: The fresh split's phrasings, per tool: written after the held-out half had been unblinded,
#: from the tools' contracts (names, descriptions, argument schemas) alone, without reading the
#: dialogue policy's source or tests. {o} order number in digits, {o_words} the same digit by
#: digit in words ("one oh oh four ..."), {p} product, {day} weekday, {date} month and day.
#: Callback times and languages are read from the phrasing (_TIMES, _LANGUAGES).
_FRESH: dict[str, tuple[str, ...]] = {
    "check_order_status": (
        "Hi, um, so I placed an order a while back, number {o}, and I'm wondering where it's at.",
        "Status of order {o}, please.",
        "Could you look up order number {o} for me and tell me where things stand?",
        "I'm calling about an order, the number is {o_words}. What's the status on that?",
    ),
    "track_shipment": (
        "Which delivery company has order {o}, and what's the tracking code?",
        "So, um, I'd like to follow my parcel online. It's order {o}.",
        "Where exactly is the package for order {o} right now?",
        "Is it UPS or FedEx bringing order {o}?",
    ),
    "list_recent_orders": (
        "I can't find my order number. Can you pull up my last few orders?",
        "Um, what have I ordered from you so far?",
        "Read me my order history, please.",
        "I don't remember the order number. What are my most recent purchases?",
    ),
    "get_customer_info": (
        "Can you confirm which email address you have for me?",
        "Um, so, what contact details are on my profile?",
        "Read me back my account information, please.",
        "What name and email is my account under?",
    ),
    "get_product_info": (
        "What do you charge for the {p}?",
        "Um, so, I'm looking at the {p}. Can you tell me a bit about it?",
        "Can I still buy the {p}, and for how much?",
        "Quick one: the {p}, how much?",
    ),
    "process_return": (
        "Could I get a return label for order {o}, please?",
        "How do I get a refund on order {o}? It stopped working after two days.",
        "Um, so the things I got in order {o} are the wrong size. I'd like to return them.",
        "I'm not happy with what came in order {o_words} and I'd like to give it back.",
    ),
    "cancel_order": (
        "Scrap order {o}, please, I changed my mind.",
        "Um, hi, is it too late to cancel order {o}?",
        "I ordered by mistake. Order number {o}, can you stop it before it ships?",
        "I'd like to call off order {o}.",
    ),
    "update_shipping_address": (
        "Can I change where order {o} gets delivered?",
        "I need order {o} sent to a different address.",
        "Um, order {o} is going to my old place. Could you fix the delivery address?",
    ),
    "update_account_info": (
        "I'd prefer to be contacted in German from now on.",
        "Can you switch my account language to Italian?",
        "Um, could my language preference be Portuguese, please?",
        "Could everything on my account be in Spanish from now on?",
    ),
    "schedule_callback": (
        "Could somebody phone me {day} at half past two in the afternoon?",
        "Um, I'd like a call back on {day}, at 10 in the morning if possible.",
        "Have someone give me a ring {day} at 4 pm.",
        "Can an agent call me on {date} at 1 pm?",
    ),
    "escalate_to_human": (
        "This is going nowhere, let me talk to a real person about order {o}.",
        "Um, can you transfer me to someone in customer service? It's about order {o}.",
        "I need a manager. Order {o} was charged twice.",
        "Get me a supervisor, please. My order is {o_words} and nobody has helped.",
    ),
}
#: The fresh2 split's phrasings, per tool: written on 2026-12-04, once the fresh split was to be
#: tuned on, from the tools' contracts alone, without reading the dialogue policy's source or
#: tests and without running the policy on them; none reuses the key verbs of the phrasings
#: above. Fields as in _FRESH.
_FRESH2: dict[str, tuple[str, ...]] = {
    "check_order_status": (
        "Hey, I'm just checking in on order {o}. How's it coming along?",
        "Um, order {o_words}. Did it go out yet, or is it still sitting in the warehouse?",
        "Could you tell me what stage order {o} is at?",
        "So I placed order {o} a while ago and I've heard nothing since. Is it moving at all?",
    ),
    "track_shipment": (
        "Um, which carrier picked up order {o}, and is there a number I can look it up with?",
        "What's the last scan on the parcel for order {o}, and when should it get here?",
        "Can you give me the shipment reference for order {o_words}? I want to check it on the "
        "carrier's website.",
        "Hi, so the box for order {o} is somewhere in transit. Where has it got to?",
    ),
    "list_recent_orders": (
        "Um, could you run through all the orders under my name?",
        "I've bought a few things from you this month and lost track. Can you list them for me?",
        "I deleted the confirmation email, so I don't have a number. What orders are on file "
        "for me, newest first?",
        "Give me a rundown of my orders, please.",
    ),
    "get_customer_info": (
        "Can you check what details you're holding about me?",
        "I want to make sure my info is right. What do you have listed for me?",
        "Am I a member, and if so, what's my membership level?",
        "So, um, what language is my account set to at the moment?",
    ),
    "get_product_info": (
        "What would the {p} set me back?",
        "Um, is the {p} sold out, or can I still get one?",
        "What's the return policy on the {p}?",
        "So, the {p}, what's that going for these days?",
    ),
    "process_return": (
        "Order {o} came and it's just not what I expected. How do I ship it back to you?",
        "Hi, um, I'd like to bring back the stuff from order {o}, it's not for me.",
        "So order {o_words} arrived broken. I want to post it back and be reimbursed.",
        "Is order {o} still inside the window for returning it? It's faulty and I want it gone.",
    ),
    "cancel_order": (
        "I don't want order {o} anymore. Can you make sure it never goes out?",
        "Um, please drop order {o_words}, I found it cheaper somewhere else.",
        "Could you void order {o}? I placed it by accident.",
        "So, order {o}, I'd like to withdraw it before it's dispatched, please.",
    ),
    "update_shipping_address": (
        "Order {o} needs to go to my new flat instead. Can you redirect it?",
        "Um, I put the wrong street on order {o}. Can we correct where it's headed?",
        "Could order {o_words} go to my office rather than my house?",
        "I'm staying at my sister's next week, so please send order {o} to her place instead.",
    ),
    "update_account_info": (
        "I'd rather you spoke to me in French. Can you make that the default on my account?",
        "Um, my mum uses this account and she reads Italian best. Can you put it on Italian?",
        "Please make German my language going forward.",
        "Can the emails you send me be in Portuguese instead of English?",
    ),
    "schedule_callback": (
        "Um, I'm at work right now. Could an agent try me again on {day} at quarter past nine "
        "in the morning?",
        "Is there any way someone from your team could get back to me by phone on {day} at midday?",
        "I'd like to book a phone call with one of your people for {date}, at twenty to five.",
        "So, um, can you set up a call to my phone on {day}, say 10:30 am?",
    ),
    "escalate_to_human": (
        "Honestly, I'd rather deal with an actual staff member about order {o}. Can you put me "
        "through?",
        "Um, this bot isn't helping. Is there a live agent who can sort out order {o}?",
        "Order {o_words} has been a mess from start to finish. I want someone who works there "
        "to take this over.",
        "I'd like to make a complaint about order {o} to whoever is in charge.",
    ),
}
#: The fresh3 split's phrasings, per tool: written on 2026-12-04, once fresh2 had been read by
#: the engineer tuning the policy, from the tools' contracts alone, by someone who never read the
#: dialogue policy's source or tests and never ran the policy on them; none reuses the key verbs
#: and nouns of the phrasings above. Sealed until 2026-12-05, when it was opened for tuning (its
#: figures on opening: answered right 40.0%, right tool 41.8%); fresh4 is the sealed split now.
#: Fields as in _FRESH.
_FRESH3: dict[str, tuple[str, ...]] = {
    "check_order_status": (
        "Um, quick question about order {o}. Has it been processed yet, or is it still pending?",
        "Progress report on order {o}, please.",
        "Would you be able to tell me whether order {o_words} has been packed yet, or is it "
        "further along than that?",
        "So, um, I paid for order {o} last week and the confirmation page just said 'received'. "
        "Has anything actually happened with it since then?",
    ),
    "track_shipment": (
        "Um, is there a way for me to see where the van with order {o} is? Like, a consignment "
        "number or something?",
        "Order {o}: who's the shipper, and what's the ETA?",
        "Hello, could you kindly tell me which postal service is handling order {o_words}, and "
        "how I can trace it myself?",
        "So I've been, um, waiting in all day for order {o} and the doorbell hasn't gone. Can you "
        "see which town it's reached by now, and which firm is carrying it?",
    ),
    "list_recent_orders": (
        "Um, the order number's gone clean out of my head. Can you go over the last couple of "
        "things I've had from you?",
        "Just my past orders, please.",
        "Good morning. I haven't got the number to hand, I'm afraid. Would you mind telling me "
        "what I've been getting from your shop over the past few weeks?",
        "So, er, I'm doing my budget for the month and want to tally up what I've spent with "
        "you. Can you tell me each of the orders on my account from, like, the last month or so?",
    ),
    "get_customer_info": (
        "Um, what surname have you got me down under? I think it might still be my maiden name.",
        "What loyalty tier am I on?",
        "Hello there. Could you tell me which mobile number and which inbox you have registered "
        "for me, please?",
        "So, um, I've been at three different places in the last year and honestly can't "
        "remember which one I gave you when I signed up. What's recorded on your end for where "
        "I live?",
    ),
    "get_product_info": (
        "Um, do you happen to have any of the {p} left?",
        "The {p}: what's it cost?",
        "Good evening. I was hoping you could give me some information on the {p}, what it "
        "retails for and whether it's available right now.",
        "So my daughter's been going on and on about the {p} for her birthday, and, um, before "
        "I promise her anything, can I actually get it from you today, and roughly what am I "
        "looking at spending?",
    ),
    "process_return": (
        "Um, everything in order {o} turned out too small. Can I get my cash back for it?",
        "Order {o} turned up yesterday and it's no good. Can you arrange a pickup so you can have "
        "it back?",
        "Hello, I received order {o_words} last week and, unfortunately, it isn't suitable. Could "
        "you tell me how I'd go about getting it back to you and having the amount credited to "
        "my card?",
        "So, um, whatever it was I got in order {o}, it makes an awful rattling noise and I've "
        "had enough of it. Could you take it off my hands and reverse the payment?",
    ),
    "cancel_order": (
        "Um, I think I'm going to back out of order {o}. Can you sort that for me?",
        "Undo order {o}, please.",
        "Good afternoon. I'm afraid I no longer require the items in order {o_words}. Would it "
        "be possible to halt it before it goes anywhere?",
        "So, um, I went ahead and bought the same thing in a shop today, which was silly of me, "
        "so order {o} is pointless now. Can we just pretend I never hit buy on it, before "
        "anything leaves?",
    ),
    "update_shipping_address": (
        "Um, can order {o} be rerouted to my parents'? I'll be with them over the holidays.",
        "Order {o}, new destination, please.",
        "Hello, I'm afraid I typed the wrong zip code at checkout for order {o_words}. Would you "
        "be able to amend where it's going?",
        "So, um, I've just handed my keys back to my landlord, and I realised order {o} is still "
        "going to the old apartment. Could you point it at my new one instead?",
    ),
    "update_account_info": (
        "Um, I'm way more comfortable reading Spanish, so can my account be in that?",
        "Portuguese on my account, please.",
        "Good morning. Would you kindly record that I'd like to be communicated with in French? "
        "It's my first language.",
        "So, er, my dad's going to be handling this account since I'm away a lot, and he reads "
        "German far better than anything else. Could you, um, have the account use that for him?",
    ),
    "schedule_callback": (
        "Um, could someone from your side buzz me {day} at quarter to eleven in the morning?",
        "Someone dial me {day}, 9:30 am, please.",
        "Good afternoon. I'm tied up at the moment; would it be possible for one of your "
        "advisers to reach me by telephone on {date} at half past three in the afternoon?",
        "So, um, I'm on the road most of today and can't really chat, so could we pencil in a "
        "time for one of your team to get me on the line, {day}, maybe ten past one in the "
        "afternoon?",
    ),
    "escalate_to_human": (
        "Um, yeah, can I get bumped up to someone senior? It's about order {o}.",
        "Operator, please. Order {o}.",
        "Hello. I'd appreciate it if you could hand me over to one of your colleagues about order "
        "{o_words}; I think it needs someone with a bit more authority.",
        "So, um, I've explained order {o} about four times now to different, like, automated "
        "things, and it keeps going round in circles. I'd really just like someone flesh and "
        "blood, a team leader, anyone, to pick this up.",
    ),
}
#: The fresh4 split's phrasings, per tool: SEALED. Written on 2026-12-05, once fresh3 was to be
#: opened for tuning, from the tools' contracts (names, descriptions, argument schemas) and this
#: module's structure alone, by someone who never read the dialogue policy's source or tests and
#: never ran the policy with their misses shown; as far as the tools' own words allow ("order",
#: "e-mail"), none reuses the key verbs and nouns of the phrasings above. Not to be read while
#: tuning, nor run with its misses printed; report only its summary figures. Baseline, typed
#: (``python -m bench.eval_typed --split fresh4``, run once), 2026-12-05 01:27 UTC, policy at
#: 5bea5f7: right tool 29.1%, right arguments 29.1%, answered right 26.4% (misses by kind: no
#: call 74, wrong tool 4, wrong answer 3).
#: Fields as in _FRESH; the languages Hindi, Japanese and Chinese (the worker's, see _LANGUAGES)
#: and the times in _TIMES after "ten past one" were added for it.
_FRESH4: dict[str, tuple[str, ...]] = {
    "check_order_status": (
        "Hiya, um, I'm ringing about my order, it's {o_words}. Has that been sent off to me yet, "
        "or not?",
        "Order {o}. Has it left you yet? Quick answer, please.",
        "Good afternoon. I wonder if you could let me know how order {o} is getting on, please?",
        "So basically, I bought a birthday present for my nephew, that's order {o}, and, uh, I've "
        "had no emails about it whatsoever. What's the situation with it? Has it even been sent?",
    ),
    "track_shipment": (
        "Um, hi, the driver for order {o}, who does he work for? And is there some kind of code "
        "so I can keep an eye on it myself?",
        "Order {o}: who've you handed it to, and what day's it landing on my doorstep?",
        "Hello, yes, I'd be grateful for the details I'd need to watch order {o_words} make its "
        "way to me, and the name of whoever has it on the road, please.",
        "So, uh, my app says order {o} left the depot on Monday and then, like, nothing. Which "
        "outfit's got it, and how close is it to me now, roughly?",
    ),
    "list_recent_orders": (
        "Um, I've binned the paperwork, so I've no idea of the number. What's come from you to me "
        "these past few weeks?",
        "The last three things I paid you for, please. Go.",
        "Hello, sorry, I'm a bit muddled. I've had several deliveries from your company lately and "
        "I can't tell one from another. Could you give me a summary of each?",
        "So, uh, my husband reckons we've had, like, four parcels off you this month and I'm sure "
        "it's two. Can you settle it? What's gone out on my account, starting with the latest?",
    ),
    "get_customer_info": (
        "Um, which of my e-mails is it that you lot use? I've got about five of them.",
        "Everything you've got stored about me, please. Quick as you can.",
        "Good evening. Before I carry on, I'd like to double-check that the personal particulars "
        "you keep for me are still current.",
        "So, uh, I think I'm on some kind of gold or silver thing with you, and I'd like to know "
        "which, and also, um, how many of my orders haven't turned up yet.",
    ),
    "get_product_info": (
        "Um, what are you asking for the {p} at the minute?",
        "The {p}, got any on the shelf?",
        "Hello, I'm considering the {p} as a gift. Could you tell me what I'd be paying, and what "
        "happens if she isn't keen?",
        "So, uh, I saw the {p} on your site and, like, I'm on a bit of a budget this month. Is "
        "that pricey? And can I actually order that right now, or is it one of those 'coming "
        "soon' things?",
    ),
    "process_return": (
        "Um, hiya, the jumper from order {o} shrank the first time I washed it. I'd like to hand "
        "it back and have what I paid put back on my card.",
        "Order {o}'s a dud. I'm not keeping it. How do I get my money for it?",
        "Good morning. The item I received in order {o_words} has a cracked casing, and I'd "
        "rather not keep it. Could you arrange for me to be repaid, and tell me how to get it to "
        "you?",
        "So basically, uh, order {o} came at the weekend and, honestly, the colour's nothing like "
        "the photos. It's still in the box, unopened. Am I still alright to, um, have you take it "
        "back and pay me?",
    ),
    "cancel_order": (
        "Um, hi, my partner's already got me the same thing, so can you knock order {o} on the "
        "head? It's still showing as placed, I think.",
        "Kill order {o}. Now, please.",
        "Good evening. I'd like to rescind order {o_words}, please; my circumstances have changed "
        "and I've no use for it now.",
        "So, um, I kind of panic-bought order {o} at two in the morning and, uh, looking at it "
        "now, I really can't justify it. Is there any chance you can, like, nix it while you've "
        "still got it?",
    ),
    "update_shipping_address": (
        "Um, I've only gone and put my old postcode on order {o}. Can we swap it for the right "
        "one?",
        "Order {o}, I need it to go elsewhere. Doable or not?",
        "Hello there. I'm relocating at the end of the month, and I'd be most grateful if order "
        "{o_words} could make its way to my new residence instead.",
        "So, uh, basically I'm house-sitting for a friend across town for the next fortnight, and "
        "I'd much rather order {o} turned up there than at mine, because nobody's home to sign "
        "for it. Can you, um, switch it over?",
    ),
    "update_account_info": (
        "Um, my gran's going to be the one calling you mostly, and she's much happier in Hindi. "
        "Could your side use Hindi with us, please?",
        "Japanese, please. For the account.",
        "Good afternoon. I'd be obliged if you could note that Italian is the language I'd like "
        "all correspondence in.",
        "So, uh, I moved here from Taipei a couple of years back, and, um, honestly the letters "
        "and texts you send, I'd understand them much better in Chinese. Is that something you "
        "can set for me?",
    ),
    "schedule_callback": (
        "Um, I'm stuck in meetings till lunch. Could one of your lot give me a bell {day} at half "
        "twelve?",
        "{day}, quarter to four. Someone give me a shout then.",
        "Good morning. Would it be possible to arrange for somebody from support to return my "
        "call on {date}, at 14:15?",
        "So, uh, the thing is, I'm driving most of today and can't, like, talk properly, but "
        "{day} I'm free, so could somebody get hold of me then, eleven o'clock, on my mobile?",
    ),
    "escalate_to_human": (
        "Um, no offence, love, but is there a proper bod there I could have a word with about "
        "order {o}?",
        "Order {o}. I want this escalated.",
        "Good afternoon. Regarding order {o_words}: I'd like this referred to someone who can "
        "actually make decisions, please, rather than an automated assistant.",
        "So, uh, basically I've been on hold twice already about order {o}, and you keep, um, "
        "sending me round the houses. Can I please just have a chat with somebody who isn't a "
        "machine?",
    ),
}
#: a callback phrasing's time, as the call's ``callback_time`` must carry it
_TIMES: dict[str, str] = {
    "3 pm": "15:00",
    "11 am": "11:00",
    "half past two in the afternoon": "14:30",
    "10 in the morning": "10:00",
    "4 pm": "16:00",
    "1 pm": "13:00",
    "quarter past nine in the morning": "09:15",
    "midday": "12:00",
    "twenty to five": "16:40",
    "10:30 am": "10:30",
    "quarter to eleven in the morning": "10:45",
    "9:30 am": "09:30",
    "half past three in the afternoon": "15:30",
    "ten past one in the afternoon": "13:10",
    "half twelve": "12:30",
    "quarter to four": "15:45",
    "14:15": "14:15",
    "eleven o'clock": "11:00",
}
#: the languages a language phrasing may name (the worker's spoken names)
_LANGUAGES = (
    "Spanish",
    "French",
    "German",
    "Italian",
    "Portuguese",
    "Hindi",
    "Japanese",
    "Chinese",
)
_DIGIT_WORDS = ("oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: answers to the questions the bot asks, in order (the address tool asks for each part)
_ANSWERS: dict[str, tuple[str, ...]] = {
    "update_shipping_address": ("12 Maple Street", "Seattle", "WA", "98101", YES),
}


@dataclass(frozen=True)
class Question:
    """One spoken question, what should be called, and how it is spoken."""

    qid: str
    split: Split
    customer_id: str
    text: str
    tool: str
    #: arguments the call must carry (strings: the call's value must contain this, any case)
    arguments: dict[str, Any]
    voice: str
    speed: float
    noise: float | str | None
    #: what the caller says to the bot's follow-up questions and read-backs, in order
    answers: tuple[str, ...] = field(default=())

    @property
    def order_id(self) -> int | None:
        value = self.arguments.get("order_id")
        return value if isinstance(value, int) else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weekday_after(today: date, days: int) -> date:
    day = today + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def build_questions(
    *,
    as_of: date,
    per_tool: int = PER_TOOL,
    fresh_per_tool: int = FRESH_PER_TOOL,
    fresh2_per_tool: int = FRESH2_PER_TOOL,
    fresh3_per_tool: int = FRESH3_PER_TOOL,
    fresh4_per_tool: int = FRESH4_PER_TOOL,
) -> list[Question]:
    """The whole set (all six splits), deterministic for *as_of*: 20 questions per tool in the
    two halves and 10 in each of the fresh, fresh2, fresh3 and fresh4 splits by default, each
    customer and order used once, so changes never collide."""
    data = build_dataset(as_of=as_of, customers=1000, orders=10000)
    orders_by_status: dict[str, list[dict[str, Any]]] = {}
    for order in data.orders:
        orders_by_status.setdefault(str(order["status"]), []).append(order)
    used_customers: set[str] = set()
    used_orders: set[int] = set()
    # the longest return window among each order's items (0: nothing in it can be returned)
    windows = {p["id"]: int(p["return_window_days"]) for p in data.products}
    return_window: dict[int, int] = {}
    for line in data.items:
        oid = int(line["order_id"])
        return_window[oid] = max(return_window.get(oid, 0), windows[line["product_id"]])

    def order_with(statuses: tuple[str, ...], *, within_days: int | None = None) -> dict[str, Any]:
        for status in statuses:
            for order in orders_by_status.get(status, []):
                if order["id"] in used_orders or order["customer_id"] in used_customers:
                    continue
                delivered = order.get("delivered_at")
                if within_days is not None and (
                    delivered is None
                    or (age := (as_of - delivered.date()).days) > within_days
                    # a return question is about an order with something still returnable:
                    # a final-sale order's right answer is a refusal, not a return
                    or age > return_window.get(order["id"], 0)
                ):
                    continue
                used_orders.add(order["id"])
                used_customers.add(order["customer_id"])
                return order
        raise LookupError(f"no unused order in {statuses}")

    def customer() -> str:
        for row in data.customers:
            if row["id"] not in used_customers and row["id"] != "cus_0001":
                used_customers.add(row["id"])
                return str(row["id"])
        raise LookupError("no unused customer")

    products = sorted({str(p["name"]).split(" (")[0] for p in data.products})
    products = [p for p in products if ":" not in p and "'" not in p]
    questions: list[Question] = []
    counter = 0

    def ask(tool: str, index: int, split: Split, template: str) -> None:
        nonlocal counter
        voice, speed = VOICES[(counter // 2) % len(VOICES)]
        noise = NOISES[counter % len(NOISES)]
        counter += 1
        args: dict[str, Any] = {}
        answers: tuple[str, ...] = ()
        fields: dict[str, Any] = {}
        if tool in ("check_order_status", "escalate_to_human"):
            order = order_with(("shipped", "delivered", "packed", "out_for_delivery"))
        elif tool == "track_shipment":
            order = order_with(_SHIPPED)
        elif tool == "process_return":
            order = order_with(("delivered",), within_days=10)
        elif tool in ("cancel_order", "update_shipping_address"):
            order = order_with(_NOT_SHIPPED)
        else:
            order = {"id": None, "customer_id": customer()}
        if order["id"] is not None:
            fields["o"] = order["id"]
            fields["o_words"] = " ".join(_DIGIT_WORDS[int(d)] for d in str(order["id"]))
            args["order_id"] = order["id"]
        if tool == "get_product_info":
            # the fresh splits start ten products on, so they do not ask in the same order; as
            # fresh2's indexes follow fresh's, it asks about the ten products after fresh's, and
            # fresh3 about the ten after fresh2's. The catalogue has only 23 askable products, so
            # fresh and fresh2 leave three unasked: fresh3 asks about those three first, and its
            # other seven are (unavoidably) products the fresh split asked about too. fresh4, the
            # ten after fresh3's, asks about none of fresh3's (the split just opened for tuning):
            # every one of its products was asked about by fresh or fresh2 already (the catalogue
            # has no askable product left that no split asked about)
            offset = 10 if split in ("fresh", "fresh2", "fresh3", "fresh4") else 0
            product = products[(index + offset) % len(products)]
            fields["p"] = product.lower()
            args["product_name"] = product.lower()
        if tool == "update_account_info":
            language = next(name for name in _LANGUAGES if name in template)
            args = {"field": "preferred_language", "value": language.lower()}
        if tool == "schedule_callback":
            day = _weekday_after(as_of, 2 + index % 3)
            fields["day"] = day.strftime("%A")
            fields["date"] = f"{day:%B} {_ordinal(day.day)}"
            time = next(hhmm for spoken, hhmm in _TIMES.items() if spoken in template)
            args = {"callback_time": f"{day.isoformat()}T{time}"}
        if tool in ("process_return", "cancel_order", "schedule_callback", "escalate_to_human"):
            answers = (YES,)
        if tool == "update_account_info":
            answers = (YES,)
        answers = _ANSWERS.get(tool, answers)
        questions.append(
            Question(
                qid=f"{tool}-{index:02d}",
                split=split,
                customer_id=str(order["customer_id"]),
                text=template.format(**fields),
                tool=tool,
                arguments=args,
                voice=voice,
                speed=speed,
                noise=noise,
                answers=answers,
            )
        )

    for tool, (tuning, heldout) in _PHRASINGS.items():
        for index in range(per_tool):
            split: Split = "tuning" if index % 2 == 0 else "heldout"
            phrasings = tuning if split == "tuning" else heldout
            ask(tool, index, split, phrasings[(index // 2) % len(phrasings)])
    # the fresh split after both halves, so their questions, orders and voices stay as they were
    for tool, fresh in _FRESH.items():
        for index in range(per_tool, per_tool + fresh_per_tool):
            ask(tool, index, "fresh", fresh[(index - per_tool) % len(fresh)])
    # the fresh2 split after the fresh one, so every earlier question stays as it was
    start = per_tool + fresh_per_tool
    for tool, fresh2 in _FRESH2.items():
        for index in range(start, start + fresh2_per_tool):
            ask(tool, index, "fresh2", fresh2[(index - start) % len(fresh2)])
    # the fresh3 split after fresh2, so every earlier question stays as it was
    start = per_tool + fresh_per_tool + fresh2_per_tool
    for tool, fresh3 in _FRESH3.items():
        for index in range(start, start + fresh3_per_tool):
            ask(tool, index, "fresh3", fresh3[(index - start) % len(fresh3)])
    # the sealed fresh4 split after fresh3, so every earlier question stays as it was
    start = per_tool + fresh_per_tool + fresh2_per_tool + fresh3_per_tool
    for tool, fresh4 in _FRESH4.items():
        for index in range(start, start + fresh4_per_tool):
            ask(tool, index, "fresh4", fresh4[(index - start) % len(fresh4)])
    return questions


if __name__ == "__main__":  # pragma: no cover - a listing for people
    for question in build_questions(as_of=date.today()):
        print(json.dumps(question.as_dict(), default=str))
