//! The words exports print, in the board's language (French by default, English available):
//! exports are read by the council and the partners, so they speak the board's language.

use shared::Lang;

macro_rules! labels {
    ($($key:ident => $fr:expr, $en:expr;)+) => {
        /// A word or phrase an export prints.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Label { $($key),+ }

        /// `label` in `lang`.
        pub fn tr(lang: Lang, label: Label) -> &'static str {
            match (label, lang) {
                $((Label::$key, Lang::Fr) => $fr, (Label::$key, Lang::En) => $en,)+
            }
        }
    };
}

labels! {
    Reactions => "Réactions", "Reactions";
    ReactionAgree => "D'accord", "Agree";
    ReactionLove => "J'aime", "Love it";
    ReactionQuestion => "Question", "Question";
    ReactionWarning => "Point d'attention", "Watch out";
    ReactionIdea => "Bonne idée", "Good idea";
    Author => "Auteur", "Author";
    EnteredBy => "saisi par", "entered by";
    ErasedPerson => "un·e participant·e", "a participant";
    IdeasPath => "Des idées aux projets", "From ideas to projects";
    ProposedBy => "proposée par", "proposed by";
    GroupedUnder => "regroupée sous", "grouped under";
    KeptBy => "retenue par", "kept by";
    SetAsideBy => "écartée par", "set aside by";
    BecameProject => "devenue le projet", "became the project";
    OnDate => "le", "on";
    RepresentedMark => "représenté·e, sans appareil", "represented, no device";
    Organisation => "Organisation", "Organisation";
    OrgKind => "Type d'organisation", "Organisation kind";
    Votes => "Votes", "Votes";
    OneVote => "1 vote", "1 vote";
    NotesCount => "notes", "notes";
    ProjectsCount => "projets", "projects";
    Created => "Créé le", "Created";
    Section => "Section", "Section";
    Text => "Texte", "Text";
    Unsorted => "Notes sans section", "Notes without a section";
    Links => "Liens entre notes", "Links between notes";
    Exported => "Exporté le", "Exported";
    Page => "Page", "Page";
    ProjectTitle => "Projet", "Project";
    Description => "Description", "Description";
    Stage => "Étape de coopération", "Cooperation stage";
    Status => "Statut", "Status";
    LeadMode => "Mode de pilotage", "Lead mode";
    Lead => "Pilote", "Lead";
    Partners => "Partenaires", "Partners";
    Budget => "Budget", "Budget";
    Cofinancers => "Co-financeurs", "Co-financers";
    WorkingGroup => "Groupe de travail", "Working group";
    NextStep => "Prochaine étape", "Next step";
    DueDate => "Échéance", "Due date";
    Stakes => "Enjeux du diagnostic", "Diagnosis stakes";
    NoProjects => "Aucun projet.", "No projects.";
    StageCodiagnose => "Co-diagnostiquer", "Co-diagnose";
    StageCodesign => "Co-élaborer", "Co-design";
    StageCofund => "Co-financer", "Co-fund";
    StageCoproduce => "Co-produire", "Co-produce";
    StageCosteer => "Co-piloter", "Co-steer";
    StageCoevaluate => "Co-évaluer", "Co-evaluate";
    OtherStage => "Autre étape", "Other stage";
    LeadEpci => "Intercommunalité", "Intercommunal body";
    LeadCommune => "Une commune", "A municipality";
    LeadColead => "Co-pilotage", "Co-lead";
    LeadRotating => "Pilotage tournant", "Rotating lead";
    Record => "Trace des contributions", "Contribution record";
    Participants => "Participants", "Participants";
    Organisations => "Organisations", "Organisations";
    OrgKinds => "Types d'organisation (parité)", "Organisation kinds (parity)";
    Name => "Nom", "Name";
    Updates => "Modifications", "Updates";
    CreatedCount => "Éléments créés", "Elements created";
    EditedCount => "Éléments modifiés", "Elements edited";
    DeletedCount => "Éléments supprimés", "Elements deleted";
    Chars => "Caractères écrits", "Characters written";
    VotesCast => "Votes", "Votes cast";
    Share => "Part", "Share";
    Timeline => "Chronologie", "Timeline";
    WorkingSession => "Séance de travail", "Working session";
    Entries => "modifications", "changes";
    CreatedVerb => "a créé", "created";
    EditedVerb => "a modifié", "edited";
    DeletedVerb => "a supprimé", "deleted";
    VotedVerb => "a voté", "voted";
    Truncated => "(chronologie tronquée : les dernières entrées seulement)", "(timeline truncated: latest entries only)";
    Unknown => "inconnu", "unknown";
    KindCommune => "Commune", "Municipality";
    KindEpci => "Intercommunalité", "Intercommunal body";
    KindAssociation => "Association", "Association";
    KindBusiness => "Entreprise", "Business";
    KindCitizen => "Citoyen·ne", "Citizen";
    KindPublic => "Acteur public", "Public body";
    NoKind => "Non précisé", "Not given";
}

/// The label of a cooperation stage stored in the document.
pub fn stage(lang: Lang, stage: &str) -> &'static str {
    let label = match stage {
        "codiagnose" => Label::StageCodiagnose,
        "codesign" => Label::StageCodesign,
        "cofund" => Label::StageCofund,
        "coproduce" => Label::StageCoproduce,
        "costeer" => Label::StageCosteer,
        "coevaluate" => Label::StageCoevaluate,
        _ => Label::OtherStage,
    };
    tr(lang, label)
}

/// The label of a lead mode; an unknown mode prints as written.
pub fn lead_mode(lang: Lang, mode: &str) -> String {
    let label = match mode {
        "epci" => Label::LeadEpci,
        "commune" => Label::LeadCommune,
        "colead" => Label::LeadColead,
        "rotating" => Label::LeadRotating,
        other => return other.to_owned(),
    };
    tr(lang, label).to_owned()
}

/// The label of an organisation kind (`commune`, `epci`, ...); empty means not given.
pub fn org_kind(lang: Lang, kind: &str) -> &'static str {
    let label = match kind {
        "commune" => Label::KindCommune,
        "epci" => Label::KindEpci,
        "association" => Label::KindAssociation,
        "business" => Label::KindBusiness,
        "citizen" => Label::KindCitizen,
        "public" => Label::KindPublic,
        _ => Label::NoKind,
    };
    tr(lang, label)
}

/// The names of `shared::reactions::REACTIONS`, in their order.
pub const REACTION_LABELS: [Label; shared::reactions::REACTIONS.len()] = [
    Label::ReactionAgree,
    Label::ReactionLove,
    Label::ReactionQuestion,
    Label::ReactionWarning,
    Label::ReactionIdea,
];

/// "3 votes", "1 vote".
pub fn votes(lang: Lang, count: i64) -> String {
    if count == 1 {
        tr(lang, Label::OneVote).to_owned()
    } else {
        format!("{count} {}", tr(lang, Label::Votes).to_lowercase())
    }
}

/// "3 idées retenues sur 17, dont 2 devenues des projets ; 4 écartées": where a board's ideas
/// stand.
pub fn path_summary(lang: Lang, s: &shared::path::Summary) -> String {
    let (kept, ideas, projects, aside) = (s.kept, s.ideas, s.projects, s.set_aside);
    let mut text = match lang {
        Lang::Fr => match kept {
            0 => format!("Aucune idée retenue sur {ideas}"),
            1 => format!("1 idée retenue sur {ideas}"),
            n => format!("{n} idées retenues sur {ideas}"),
        },
        Lang::En => match kept {
            0 => format!("No idea kept out of {ideas}"),
            1 => format!("1 idea kept out of {ideas}"),
            n => format!("{n} ideas kept out of {ideas}"),
        },
    };
    text.push_str(&match (lang, projects) {
        (_, 0) => String::new(),
        (Lang::Fr, 1) => ", dont 1 devenue un projet".to_owned(),
        (Lang::Fr, n) => format!(", dont {n} devenues des projets"),
        (Lang::En, 1) => ", 1 of which became a project".to_owned(),
        (Lang::En, n) => format!(", {n} of which became projects"),
    });
    text.push_str(&match (lang, aside) {
        (_, 0) => String::new(),
        (Lang::Fr, 1) => " ; 1 écartée".to_owned(),
        (Lang::Fr, n) => format!(" ; {n} écartées"),
        (Lang::En, n) => format!("; {n} set aside"),
    });
    text
}

/// A person's name as an export prints it: a name taken back (erasure) is "un·e
/// participant·e" in the board's language, the organisation printed beside it as for anyone.
pub fn shown_name(lang: Lang, name: &str) -> String {
    if name == shared::proxy::ERASED_NAME {
        tr(lang, Label::ErasedPerson).to_owned()
    } else {
        name.to_owned()
    }
}
