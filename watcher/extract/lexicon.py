"""The cue-word lexicons (English, simplified and traditional Chinese) that `cues` compiles.

Each entry is (family, side, pattern); see `cues` for the families and the sides. Entries are
tried in the order listed: a longer, more specific phrase listed first masks the generic words
inside it.
"""

from __future__ import annotations

# --- English --------------------------------------------------------------------------------

EN: list[tuple[str, str, str]] = [
    (
        "SUP",
        "L",
        r"(?:previously|originally|initially|formerly)\s+(?:been\s+)?(?:scheduled|set|due|slated"
        r"|expected|planned|supposed|intended)|had\s+(?:already\s+)?been\s+(?:scheduled|set|due"
        r"|slated|expected|planned|pushed|moved|delayed|postponed|deferred)|rather\s+than"
        r"|instead\s+of|would\s+(?:otherwise\s+)?have|otherwise"
        r"|(?:will|would|shall)\s+(?:now\s+)?not\s+(?:now\s+)?(?:come|enter|take|go)\s+into"
        # hedged lower bounds: "as early as October 1", "could kick in by X"
        r"|as\s+(?:early|soon)\s+as|could\s+(?:[a-z]+\s+){0,3}?(?:by|as\s+of)",
    ),
    # "when the duties will no longer apply": the end of the measure, not a superseded date
    (
        "END",
        "B",
        r"(?:will|shall|would)\s+no\s+longer\s+(?:appl(?:y|ies)|be\s+(?:collected|levied))",
    ),
    # "End-User Review Committee", "semiconductor end use": no end of anything
    ("NONE", "B", r"end[\s-]+(?:users?|uses?)"),
    ("SUP", "R", r"no\s+longer\s+(?:appl(?:y|ies)|stands?|(?:is\s+|be\s+)?valid)"),
    # weak: superseded only when the sentence holds another date ("original date of X ... to Y")
    (
        "SUP2",
        "L",
        r"(?:was|were)\s+(?:originally\s+)?(?:scheduled|set|due|slated|supposed)\s+to"
        r"|(?:was|were)\s+to\s+(?:take|expire|end|apply|come|enter|begin|start)"
        r"|had\s+(?:threatened|planned|intended|proposed|vowed|pledged|promised)\s+to"
        r"|previously|originally|initially|formerly|original",
    ),
    # the old date named by the change ("extending a July 9 deadline", "postponing the Aug. 1 start")
    (
        "OLD",
        "L",
        r"(?:extend(?:s|ed|ing)?|postpon(?:e|es|ed|ing)|delay(?:s|ed|ing)?|push(?:es|ed|ing)?"
        r"\s+back|mov(?:e|es|ed|ing))\s+(?:the|a|an|its|their)",
    ),
    # neutral phrases that mask the cue words inside them ("to be published", "due to")
    (
        "NONE",
        "B",
        r"be\s+(?:issued|published|posted|released|filed|signed|adopted|enacted|approved"
        r"|initiated|launched|unveiled|proposed|declared|reported)|due\s+to"
        # "21 days after it was signed, on Aug 27": the signing is not the date's event
        r"|(?:days?|weeks?|months?)\s+(?:after|following|from)\s+(?:it|they|the\s+\w+)"
        r"\s+(?:was|were|is|are)\s+(?:signed|published|issued|announced|adopted)",
    ),
    # "The public hearing will commence on X": the start verb's subject is a meeting
    (
        "MEET",
        "B",
        r"(?:hearings?|meetings?|conferences?|summits?|talks|negotiations|sessions?|webinars?"
        r"|roundtables?)"
        r"\s+(?:(?:will|shall|is\s+to|are\s+to)\s+)?(?:commence|begin|start|open|resume|convene)"
        r"(?:s|d|ed)?",
    ),
    # "the actions taken in this investigation": the investigation as a frame, not its opening
    ("NONE", "B", r"(?:in|under)\s+(?:this|the|that|its)\s+investigation"),
    # "revenue for the quarter through Sept. 28": a reporting period, not a measure's end
    (
        "EVENT",
        "B",
        r"(?:quarter|fiscal\s+year|half-year)\s+(?:ended|ending|through|thru|to)"
        r"|(?:three|six|nine|twelve)\s+months\s+(?:ended|ending)",
    ),
    (
        "APPEAR",
        "B",
        r"requests?\s+to\s+appear(?:\s+at\s+the\s+(?:public\s+)?hearing)?"
        r"|notices?\s+of\s+intent\s+to\s+appear|appear\s+at\s+the\s+(?:public\s+)?hearing"
        r"|to\s+testify",
    ),
    (
        "COM",
        "B",
        r"(?:post-?hearing\s+)?(?:rebuttal\s+)?comments?|written\s+submissions?"
        r"|public\s+input|feedback|(?:public\s+)?consultation|(?:case|rebuttal)\s+briefs?"
        r"|weigh\s+in",
    ),
    # ending a proceeding is a decision about it, not the end of a measure
    (
        "EVENT",
        "B",
        r"(?:terminat(?:e|es|ed|ing)|conclud(?:e|es|ed|ing)|clos(?:e|es|ed|ing)|suspend(?:s|ed|ing)?)"
        r"\s+(?:the|its|this|that)\s+(?:[\w-]+\s+){0,2}?(?:review|investigation|probe|inquiry"
        r"|proceeding)s?"
        # "shall be considered the start date for the dispute": the opening of a proceeding
        r"|start\s+date\s+(?:for|of)\s+(?:the|this)\s+(?:[\w-]+\s+)?(?:dispute|proceeding|review"
        r"|investigation|case|panel)|docketed",
    ),
    # an investigation's time limit: "the investigation will run until X" (other_deadline)
    (
        "INV",
        "R",
        r"to\s+(?:conclude|complete|finish)\s+(?:the|its|this)\s+(?:[\w-]+\s+){0,2}?"
        r"(?:review|investigation|probe|inquiry)",
    ),
    (
        "INV",
        "B",
        r"(?:investigations?|probes?|inquir(?:y|ies)|reviews?)\s+(?:will|would|is\s+to|shall)\s+"
        r"(?:now\s+)?(?:run|last|continue|conclude)|(?:time\s+limits?|deadlines?|statutory\s+"
        r"deadlines?)\s+(?:for|of|to\s+complete)\s+(?:the|this|its)\s+(?:[\w-]+\s+){0,3}?"
        r"(?:investigations?|probes?|inquir(?:y|ies))|(?:investigation|probe)\s+(?:deadline"
        r"|time\s+limit)",
    ),
    (
        "OPEN",
        "B",
        r"open(?:s|ed|ing)?\s+(?:the\s+)?(?:public\s+)?(?:docket|comment\s+period|window)"
        r"|docket\s+(?:will\s+)?opens?|begin(?:s|ning)?\s+(?:to\s+)?accept(?:ing)?"
        r"|(?:will|to)\s+open|window\s+opens?|windows?\s+opening|opens?\s+(?:on|for)"
        r"|investigations?|probes?|inquir(?:y|ies)",
    ),
    ("PUBL", "B", r"(?:must|shall|should|will|to)\s+be\s+published"),
    # statistics releases: "data for November is due on Dec. 20"
    (
        "EVENT",
        "B",
        r"(?:data|figures|statistics|numbers|earnings|results)(?:[\s,]+\w+){0,3}?[\s,]+(?:(?:is|are)\s+)?"
        r"(?:due|scheduled|expected)"
        # "$90 billion collected through Sept 23": an amount counted up to a day
        r"|(?:collected|paid|raised|spent|received|imported|exported|sold)\s+(?:through|thru"
        r"|until|as\s+of|up\s+to)",
    ),
    # "Last day of the one-year suspension": the end of the period, not a filing deadline
    (
        "END",
        "B",
        r"last\s+day\s+of\s+(?:the\s+|its\s+)?(?:[\w'’-]+\s+){0,3}?(?:suspension|exclusion|pause"
        r"|truce|licen[cs]e|validity|waiver|exemption|reprieve|grace\s+period)s?"
        # "Suspension ends": the period noun is the subject of the end verb
        r"|(?:suspension|pause|exclusion|truce|waiver|exemption|reprieve)s?\s+(?:ends?|expires?"
        r"|lapses?)",
    ),
    # key-date rows: "March 24, 2025: Due date for submission of written comments"
    ("DL", "B", r"due\s+date|deadline"),
    # "applies retroactively to Aug. 7": a start, not an end
    ("FROM", "L", r"retroactive(?:ly)?\s+(?:to|from|as\s+of)"),
    ("DL", "R", r"by\s+(?:this|that|the\s+above|such)\s+date"),
    (
        "MEET",
        "B",
        r"take\s+place|took\s+place|meetings?|meet|met|summit|hearings?|briefings?|talks"
        r"|visit(?:s|ed)?|conference|roundtable|phone\s+call|session|convene[sd]?|webinars?"
        r"|seminars?|workshops?|(?:heard|hears?|hearing)\s+(?:oral\s+)?arguments|oral\s+arguments"
        r"|maintenance|outages?|unavailable|downtime|offline|(?:was|were|is|are|be|remain(?:s|ed)?)"
        r"\s+closed",
    ),
    (
        "EVENT",
        "B",
        r"announc(?:e|ed|es|ing|ement)|(?:issued|published|posted|released"
        r"|filed|signed|adopted|enacted|approved|initiated|launched|unveiled|proposed|declared"
        r"|reported|publishing|publishes)|said|says|told|stated|agreed|reached|struck|concluded|discussed|wrote|noted|today"
        r"|ruled|upheld|sued",
    ),
    (
        "REF",
        "L",
        r"(?:executive\s+|presidential\s+)?(?:order|proclamation|regulation|decision|directive|notice|rule|letter"
        r"|memorandum|announcement|act|statement|decree|determination|cfr|fr)\s+"
        r"(?:\((?:eu|ec|eec|euratom)\)\s+)?(?:(?:no\.?\s*)?[\w./-]*\d[\w./-]*\s+)?(?:\([^)]{0,40}\)\s+)?(?:of|dated)"
        r"|dated|of\s+the",
    ),
    (
        "REF",
        "R",
        r"(?:presidential\s+)?proclamations?|executive\s+orders?|notices?|announcements?"
        r"|fact\s+sheet|joint\s+statement|statement|agreement|deal|truce|letter|memo(?:randum)?"
        r"|determination|decision|press\s+release|federal\s+register\s+notice|rule"
        r"|regulations?|executive|framework|arrangement|understanding|call",
    ),
    (
        "CUT",
        "B",
        r"loaded|shipped|in\s+transit|en\s+route|departed|laden|exported|on\s+the\s+water",
    ),
    (
        "EFF",
        "L",
        r"to\s+(?:[a-z]{1,3})?[$€£¥]?\d+(?:\.\d+)?\s*(?:percent|per\s+cent"
        r"|%\s*(?:on|from|starting|beginning|effective|as\s+of))",
    ),
    # "duties will increase on Jan 1 to 30%": a rate step named right after the date
    (
        "EFF",
        "R",
        r"to\s+(?:[a-z]{1,3})?[$€£¥]?\d+(?:\.\d+)?(?:\s*(?:percent|per\s+cent))?",  # + "%"
    ),
    # "the CVDs are due from 30 October": duties owed from a day on (a start, not a deadline)
    ("FROM", "L", r"(?:due|payable|owed|chargeable)\s+(?:as\s+)?from"),
    # applying for a licence or an authorisation is the way to obtain it (a compliance step)
    (
        "CMP",
        "B",
        r"(?:apply|applications?)\s+for\s+(?:an?\s+|the\s+)?(?:\w+\s+){0,3}?"
        r"(?:licen[cs]es?|authori[sz]ations?|permits?|status|approvals?)",
    ),
    # "Apply for an exclusion": applying is not the measure applying
    ("NONE", "B", r"apply\s+for"),
    ("SINCE", "L", r"since"),
    # "companies have until May 1 to weigh in": a deadline, not the end of a period
    ("BY", "L", r"(?:ha(?:ve|s|d)|given|giving|gives?|get|gets|got)\s+until"),
    (
        "UNTIL",
        "L",
        r"(?:until|till|through|thru|up\s+to)\s+and\s+including|until|till|through|thru"
        r"|extended\s+to|to",
    ),
    (
        "BY",
        "L",
        r"no\s+later\s+than|not\s+later\s+than|on\s+or\s+before|by|due(?:\s+(?:on|by))?"
        r"|clos(?:es?|ed)\s+on|closes|close\s+of\s+business(?:\s+on)?",
    ),
    ("BY", "R", r"at\s+the\s+latest"),
    ("BEFORE", "L", r"before|prior\s+to"),
    (
        "FROM",
        "L",
        r"beginning|starting|commencing|as\s+from|with\s+effect\s+from|on\s+or\s+after"
        r"|from\s+and\s+after",
    ),
    ("FROMW", "L", r"from|as\s+of|after"),
    (
        "END",
        "B",
        r"expir(?:e|es|ed|ing|ation|y)|end(?:s|ed|ing)?|terminat(?:e|es|ed|ion)|laps(?:e|es|ed)"
        r"|sunsets?|ceas(?:e|es|ed)|stop(?:s|ped|ping)?\s+(?:the|its|their|all|applying|imposing"
        r"|collecting|charging|levying|implementing)|no\s+longer|revert(?:s|ed)?|run\s+out|runs\s+out"
        r"|remov(?:e|es|ing|al)|lift(?:s|ing)?|scrap(?:s|ped|ping)?|eliminat(?:e|es|ion)"
        r"|revok(?:e|es|ed|ing)|revocation|rescind(?:s|ed|ing)?|rescission|repeal(?:s|ed|ing)?"
        r"|as\s+(?:the|its)\s+(?:expiry|expiration|end)\s+date",
    ),
    (
        "EFF",
        "B",
        r"effective(?:\s+date)?|tak(?:e|es|en|ing)\s+effect|took\s+effect"
        r"|(?:go|goes|going|went|gone)\s+into\s+effect|(?:come|comes|came|coming)\s+into\s+(?:force|effect)"
        r"|ent(?:er|ers|ered|ering|ry)\s+into\s+force|in\s+(?:effect|force)|appl(?:y|ies|ied)|applicable"
        r"|implement(?:s|ed|ation)?|kick(?:s|ed)?\s+in|impos(?:e|ed|es|ition)|levied|collect(?:ed|ion)?"
        r"|(?:ris(?:e|es|ing)|rose|increas(?:e|es|ed|ing)|rais(?:e|es|ed|ing)|climb(?:s|ed|ing)?"
        r"|jump(?:s|ed|ing)?|fall(?:s|ing)?|drop(?:s|ped|ping)?|reduc(?:e|es|ed|ing)|lower(?:s|ed|ing)?"
        r"|decreas(?:e|es|ed|ing)|step(?:s|ped|ping)?\s+up|go(?:es|ing)?\s+up)"
        r"(?:\s+[a-z]+){0,3}?\s+to\s+(?:[a-z]{1,3})?[$€£¥]?\d+(?:\.\d+)?"
        r"|reach(?:es|ed|ing)?\s+[$€£¥]?\d[\d,.]*\d|as\s+(?:the|its)\s+(?:start|effective)\s+date"
        r"|start\s+date|begins?|began|begun|commence[sd]?|start(?:s|ed)?|resum(?:e|es|ed|ing)"
        r"|(?:fully\s+)?in\s+place|br(?:ing|ings|ought)\s+in"
        r"|(?:increase|rise|hike|cut|reduction|step)s?\s+(?:on|from|as\s+of)|follows?\s+on",
    ),  # "to 25" (+ "%": no \b after it)
    (
        "SUS",
        "B",
        r"suspen(?:d|ds|ded|ding|sion)|pause[sd]?|pausing|defer(?:s|red|ring|ral)?"
        r"|delay(?:s|ed|ing)?|postpone(?:s|d|ment)?|postponing|halt(?:s|ed)?|waive[sd]?|stay(?:ed)?",
    ),
    (
        "EXT",
        "B",
        r"exten(?:d|ds|ded|ding|sion)|exclusions?|exempt(?:ion|ions|ed)?|waiver|licen[cs]es?"
        r"|valid(?:ity)?|remain(?:s|ed)?|continu(?:e|es|ed|ing)|authoriz(?:ation|ed|es|ing)",
    ),
    (
        "REQ",
        "B",
        r"requests?\s+for\s+(?:exclusion|extension|review|consultation|an?\s+\w+)"
        r"|(?:inclusion|exclusion|extension)\s+requests?"
        r"|requests?\s+(?:must|should|shall|may)\s+be\s+(?:filed|submitted)"
        r"|petitions?|applications?\s+for|nominations",
    ),
    (
        "CMP",
        "B",
        r"compl(?:y|ies|ying|iance)|requir(?:e|es|ed|ing)(?:\s+to)?|must\s+(?:obtain|apply|register"
        r"|certify|ensure|adopt|hold|have|enroll|complete|update)"
        r"|obtain\s+(?:an?\s+)?(?:\w+\s+)?licen[cs]e|transition(?:al)?\s+period"
        r"|grace\s+period|wind[\s-]down|mandatory",
    ),
    ("PAY", "B", r"pay|payment|paid|payable|fees?|deposit|remit(?:ted|tance)?"),
    (
        "RPT",
        "B",
        r"reports?|reporting|notify|notification|declar(?:e|ation)|certif(?:y|ication)"
        r"|submit|submission|file|filing",
    ),
    ("NEGOT", "B", r"negotiat(?:e|ed|ion|ions|ing)|reach\s+(?:an?\s+)?(?:agreement|deal)"),
    ("DL", "B", r"deadline|due\s+date|due|last\s+day|closing\s+date|cutoff"),
    # the entry of goods: with a shipping cut-off before it, the end of an in-transit window
    (
        "ENTRY",
        "B",
        r"entered|entering|enters?|imported|importing|withdrawn\s+from\s+warehouse|arriv(?:e|es|ed|ing)"
        r"|clear(?:s|ed)?\s+customs",
    ),
]

# --- Chinese (simplified and traditional) ------------------------------------------------------

ZH: list[tuple[str, str, str]] = [
    ("SUP", "L", r"原定|原[订訂]|原計劃|原计划|原本|原先|原[预預][计計]|此前定[于於]|而非|取代"),
    # an investigation's time limit ("调查期限延长至X", "本案调查期限截止日期为X")
    ("INV", "B", r"(?:[调調]查|[审審]查|复审|複審|[复複][审審][调調]查)期限"),
    # an investigation is initiated ("自X起，对…进行期终复审调查")
    (
        "OPEN",
        "B",
        r"[发發]起|立案|(?:调查|調查)自|[对對][^，,。;；]{0,40}?[进進]行[^，,。;；]{0,12}?[调調]查",
    ),
    # ending a proceeding is a decision about it ("已于8月29日终止调查"), not the end of a measure
    (
        "EVENT",
        "B",
        r"(?:终止|終止|结束|結束)(?:本案|该|該|本次|此次)?(?:[调調]查|[审審]查|复审|複審|[复複][审審][调調]查)",
    ),
    # "申请参加调查登记": a request to take part, like a request to appear
    (
        "APPEAR",
        "B",
        r"申[请請]参加|申[请請]參加|登[记記](?:发言|發言|出席)|[报報]名(?:发言|發言|出席)",
    ),
    ("COM", "B", r"意[见見]|[评評][论論]|反[馈饋]"),
    # "按现行有关规定执行", "按照最惠国税率执行": a manner of applying, not a date's verb
    ("NONE", "B", r"按(?:照)?[^，,。；;]{0,12}?[执執]行"),
    # "X前已装船", "X前已申报的": goods already shipped/declared before X (a cut-off)
    ("CUT", "R", r"(?:之|以)?前(?:已|曾)"),
    ("CUT", "B", r"不(?:适用|適用|加[征徵])|仍(?:然)?(?:适用|適用)"),
    ("OPEN", "B", r"[开開]始(?:征求|徵求|受理)|公[开開](?:征求|徵求)意[见見]"),
    (
        "END",
        "B",
        r"停止(?:[实實]施|[执執]行|加[征徵])|到期|[届屆]满|[届屆]滿|[终終]止|失效|[废廢]止"
        r"|[结結]束|取消|停止|不再(?:适用|適用|加[征徵]|[执執]行|[实實]施)",
    ),
    (
        "MEET",
        "B",
        r"[会會][议議]|[会會]晤|[会會][谈談]|[会會]见|[会會]見|通[话話]|[访訪]问|[访訪]問"
        r"|[听聽][证證]|峰[会會]|磋商|[举舉]行|召[开開]|出席",
    ),
    (
        "EVENT",
        "B",
        r"宣布|宣佈|[发發][布佈]|公布|公佈|印[发發]|[签簽]署|通[过過]|表示|指出|[称稱]"
        r"|[颁頒][布佈]|出台|[达達]成|[发發]表|[报報][道导導]|批准|[连連][发發]",
    ),
    (
        "REF",
        "R",
        r"(?:[发發][布佈]的|的)?(?:公告|通知|[决決]定|令|[声聲]明|文件|函|[协協]议|[协協]議)",
    ),
    ("REF", "L", r"根据|根據|依据|依據"),
    # "2025年4月2日第14257号行政命令": the date of a numbered document
    ("REF", "R", r"第\s*\d+\s*[号號]"),
    ("CUT", "B", r"[装裝][运運船]|[启啟][运運]|离港|離港|出[运運]|[运運][输輸]途中|在途|[运運]抵"),
    ("SINCE", "R", r"以[来來]"),
    ("SINCE", "L", r"自从|自從"),
    ("FROM", "L", r"[自从從由]"),
    ("FROM", "R", r"起|[开開]始"),
    ("UNTIL", "L", r"延[长長]至|至|到"),
    ("UNTIL", "R", r"[为為]?止"),
    ("BY", "L", r"截止(?:日期|[时時][间間])?(?:[为為]|是)?|不晚[于於]|最[迟遲]"),
    ("BY", "R", r"截止|(?:之|以)?前"),
    ("BEFORE", "L", r"截至"),
    (
        "EFF",
        "B",
        r"施行|[实實]施|生效|[执執]行|起[征徵]|加[征徵]|[征徵]收|[适適]用|[启啟]用|上[调調]|下[调調]"
        r"|[调調]整[为為]|落地|恢[复復]|(?:降|提高|提升|下[调調]|上[调調]|[调調]整|降低)至",
    ),
    (
        "SUS",
        "B",
        r"(?:[暂暫]停|中止)(?:[实實]施|[执執]行|[适適]用|加[征徵])?|[暂暫][缓緩]|推[迟遲]|[缓緩][征徵]"
        r"|停[征徵]",
    ),
    ("EXT", "B", r"延[长長]|延期|有效期|豁免|排除|[继繼][续續]|保留"),
    # "完成…清缴": the light verb 完成 takes its object's topic (a payment, a report)
    ("PAY", "B", r"完成[^,，。;；]{0,12}?(?:清[缴繳]|[缴繳]清|[缴繳]款|[缴繳][纳納]|支付)"),
    ("RPT", "B", r"完成[^,，。;；]{0,12}?(?:申[报報]|[备備]案|[报報]告|提交)"),
    ("CMP", "B", r"(?:授[权權]|[许許]可)申[请請]|申[请請](?:授[权權]|[许許]可)"),
    (
        "CMP",
        "B",
        r"[过過]渡期|合[规規]|[须須]取得|[应應][当當]取得|申[领領]|整改|[许許]可|[登註注][记記册冊]"
        r"|完成|方可",
    ),
    ("PAY", "B", r"[缴繳][纳納]|[缴繳][费費]|支付|[缴繳]款|清[缴繳]|[缴繳]清"),
    ("RPT", "B", r"[报報]告|申[报報]|[备備]案|提交"),
    ("NEGOT", "B", r"[谈談]判"),
    ("DL", "B", r"期限|截止日期|截止[时時][间間]"),
    ("ENTRY", "B", r"[进進]口|入境|[进進]入|[运運]抵|抵港|[报報][关關]"),
]
