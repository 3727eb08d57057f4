//! The translation layer: every user-facing string of the app is a [`Key`] here, in French
//! (the default) and English.

use leptos::prelude::*;
use shared::Lang;

/// The interface language, provided at the top of the app.
#[derive(Clone, Copy)]
pub struct I18n(pub RwSignal<Lang>);

impl I18n {
    pub fn t(&self, key: Key) -> &'static str {
        tr(self.0.get(), key)
    }

    /// The text of `key`, following a language switch, for a view. Every key gives the same
    /// closure type, so the many translated texts and labels of the views share one compiled
    /// copy of the rendering code instead of one each (this keeps the WebAssembly small).
    pub fn live(self, key: Key) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
        move || self.t(key)
    }
}

pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

/// A person's name as the page shows it: a name taken back (erasure) reads "un·e
/// participant·e" in the interface's language (French where no language is in reach).
pub fn shown_name(name: &str) -> String {
    if name == shared::proxy::ERASED_NAME {
        let lang = use_context::<I18n>().map_or(Lang::Fr, |i| i.0.get_untracked());
        tr(lang, Key::ErasedPerson).to_owned()
    } else {
        name.to_owned()
    }
}

macro_rules! keys {
    ($($key:ident => $fr:literal, $en:literal;)+) => {
        /// A user-facing string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Key { $($key),+ }

        pub fn tr(lang: Lang, key: Key) -> &'static str {
            match (lang, key) {
                $((Lang::Fr, Key::$key) => $fr, (Lang::En, Key::$key) => $en,)+
            }
        }
    };
}

keys! {
    AppTagline => "Cartes mentales, diagnostics territoriaux et portefeuilles de projets, à plusieurs et en direct.", "Mind maps, territorial diagnoses and project portfolios, together and live.";
    SwitchLanguage => "English", "Français";
    NewBoard => "Nouveau tableau", "New board";
    BoardTitle => "Titre", "Title";
    BoardKindLabel => "Type de tableau", "Board kind";
    BoardLang => "Langue du tableau", "Board language";
    KindMindMap => "Carte mentale", "Mind map";
    KindDiagnosis => "Diagnostic territorial", "Territorial diagnosis";
    KindPortfolio => "Portefeuille de projets", "Project portfolio";
    Create => "Créer", "Create";
    Creating => "Création…", "Creating…";
    LinksTitle => "Liens du tableau", "Board links";
    LinksHint => "Gardez le lien d'animation pour vous ; partagez le lien d'édition avec les participants et le lien de lecture avec le public.", "Keep the facilitator link to yourself; share the editor link with participants and the viewer link with the public.";
    RoleFacilitator => "Animation", "Facilitator";
    RoleEditor => "Édition", "Editor";
    RoleViewer => "Lecture seule", "Viewer";
    Copy => "Copier", "Copy";
    Copied => "Copié", "Copied";
    Open => "Ouvrir", "Open";
    RecentBoards => "Tableaux récents", "Recent boards";
    NoRecentBoards => "Aucun tableau ouvert dans ce navigateur pour l'instant.", "No board opened in this browser yet.";
    LangFr => "Français", "French";
    LangEn => "Anglais", "English";
    TitleRequired => "Donnez un titre au tableau.", "Give the board a title.";
    ErrorPrefix => "Erreur : ", "Error: ";
    JoinTitle => "Rejoindre le tableau", "Join the board";
    JoinHint => "Votre nom est affiché à côté de vos contributions. Seul le nom est requis.", "Your name is shown next to your contributions. Only the name is required.";
    YourName => "Votre nom", "Your name";
    Organisation => "Organisation", "Organisation";
    OrgKindLabel => "Type d'organisation", "Organisation kind";
    OrgKindNone => "—", "—";
    OrgCommune => "Commune", "Municipality";
    OrgEpci => "Intercommunalité (EPCI)", "Intercommunal body";
    OrgAssociation => "Association", "Association";
    OrgBusiness => "Entreprise", "Business";
    OrgCitizen => "Citoyen·ne", "Citizen";
    OrgPublic => "Service public", "Public service";
    Colour => "Couleur", "Colour";
    Join => "Entrer", "Join";
    NameRequired => "Indiquez votre nom.", "Enter your name.";
    StatusConnected => "Connecté", "Connected";
    StatusConnecting => "Connexion…", "Connecting…";
    StatusReconnecting => "Reconnexion…", "Reconnecting…";
    StatusOffline => "Hors ligne — vos modifications seront envoyées au retour de la connexion", "Offline — your edits will be sent when the connection returns";
    StatusPaused => "Enregistrement en pause — le serveur ne peut pas enregistrer ; vos modifications attendent sur cet appareil", "Saving paused — the server cannot save; your edits wait on this device";
    StatusRefused => "Accès refusé : lien invalide ou révoqué", "Access refused: invalid or revoked link";
    StatusUnknownBoard => "Ce tableau n'existe pas", "This board does not exist";
    MissingToken => "Ce lien ne contient pas de jeton d'accès.", "This link has no access token.";
    ReadOnly => "Lecture seule", "Read-only";
    Present => "Présents", "Present";
    You => "vous", "you";
    Contributions => "Contributions", "Contributions";
    ShowContributions => "Qui a contribué", "Who contributed";
    Refresh => "Actualiser", "Refresh";
    CreatedLong => "Éléments créés", "Elements created";
    EditedLong => "Éléments modifiés", "Elements edited";
    DeletedLong => "Éléments supprimés", "Elements deleted";
    CharsLong => "Caractères écrits", "Characters written";
    VotesLong => "Votes", "Votes";
    ParityView => "Part de chaque type d'organisation (caractères écrits)", "Share of each kind of organisation (characters written)";
    AnonymousClient => "Client sans nom (programme)", "Unnamed client (a program)";
    Home => "Accueil", "Home";
    FitToScreen => "Ajuster à l'écran", "Fit to screen";
    ZoomIn => "Zoom avant", "Zoom in";
    ZoomOut => "Zoom arrière", "Zoom out";
    AddChild => "Ajouter un enfant", "Add child";
    AddChildKey => "Tab", "Tab";
    AddSibling => "Ajouter un voisin", "Add sibling";
    AddSiblingKey => "Entrée", "Enter";
    DeleteNode => "Supprimer", "Delete";
    DeleteNodeKey => "Suppr", "Del";
    Undo => "Annuler", "Undo";
    UndoKey => "Ctrl+Z", "Ctrl+Z";
    Redo => "Rétablir", "Redo";
    RedoKey => "Ctrl+Y", "Ctrl+Y";
    NewIdea => "Nouvelle idée", "New idea";
    ConfirmDeleteSubtree => "Supprimer cette idée et toutes ses sous-idées ?", "Delete this idea and all its sub-ideas?";
    MapLabel => "Carte mentale", "Mind map";
    Collapsed => "replié", "collapsed";
    Expanded => "déplié", "expanded";
    ChildrenHidden => "sous-idées masquées", "hidden sub-ideas";
    KeyboardHelp => "Tab : enfant · Entrée : voisin · F2 : éditer · Échap : terminer · Suppr : supprimer · Flèches : naviguer · Espace : replier · L : verrouiller (facilitation)", "Tab: child · Enter: sibling · F2: edit · Esc: done · Del: delete · Arrows: move · Space: collapse · L: lock (facilitation)";
    EditNodeLabel => "Texte de l'idée", "Idea text";
    NewSection => "Nouvelle section", "New section";
    AddSection => "Ajouter une section", "Add section";
    SectionTitle => "Titre de la section", "Section title";
    MoveSectionLeft => "Déplacer la section vers la gauche", "Move section left";
    MoveSectionRight => "Déplacer la section vers la droite", "Move section right";
    RemoveSection => "Supprimer la section", "Remove section";
    WhereNotesGo => "Cette section contient des notes. Où vont-elles ?", "This section holds notes. Where do they go?";
    DeleteTheNotes => "Supprimer les notes", "Delete the notes";
    AddNote => "+ Note", "+ Note";
    EmptyNote => "(note vide)", "(empty note)";
    NoteText => "Texte de la note", "Note text";
    ConfirmDeleteNote => "Supprimer cette note ? (elle reste dans l'historique)", "Delete this note? (it stays in the history)";
    DeleteNote => "Supprimer la note", "Delete note";
    LinkNote => "Relier à une autre note", "Link to another note";
    PickNoteToLink => "Choisissez la note à relier (↔)", "Pick the note to link (↔)";
    RemoveLink => "Retirer le lien", "Remove link";
    Voting => "Vote par gommettes", "Dot voting";
    OpenVote => "Ouvrir le vote", "Open the vote";
    CloseVote => "Clore le vote", "Close the vote";
    VotesPerParticipant => "Votes par personne", "Votes per person";
    HideVotes => "Masquer les totaux", "Hide totals";
    RevealVotes => "Révéler les totaux", "Reveal totals";
    VotesLeft => "Votes restants :", "Votes left:";
    AddVote => "Voter pour cette note", "Vote for this note";
    RemoveVote => "Retirer un vote", "Remove a vote";
    SortByVotes => "Trier par votes", "Sort by votes";
    FilterParticipant => "Participant", "Participant";
    Everyone => "Tous", "All";
    Cancel => "Annuler", "Cancel";
    StageCodiagnose => "Co-diagnostiquer", "Co-diagnose";
    StageCodesign => "Co-élaborer", "Co-design";
    StageCofund => "Co-financer", "Co-fund";
    StageCoproduce => "Co-produire", "Co-produce";
    StageCosteer => "Co-piloter", "Co-steer";
    StageCoevaluate => "Co-évaluer", "Co-evaluate";
    LeadEpci => "Intercommunalité", "Intercommunal body";
    LeadCommune => "Une commune", "A municipality";
    LeadColead => "Co-pilotage", "Co-lead";
    LeadRotating => "Pilotage tournant", "Rotating lead";
    NewProject => "Nouveau projet", "New project";
    AddProject => "+ Projet", "+ Project";
    ColumnsView => "Colonnes par étape", "Columns by stage";
    TableView => "Tableau", "Table";
    ProjectDetails => "Fiche projet", "Project details";
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
    Stakes => "Enjeux du diagnostic auxquels il répond", "Diagnosis stakes it answers";
    StakeLabel => "Enjeu (texte)", "Stake (text)";
    StakeBoard => "Tableau de diagnostic (id)", "Diagnosis board (id)";
    StakeNote => "Note (id)", "Note (id)";
    AddStake => "Ajouter l'enjeu", "Add stake";
    DeleteProject => "Supprimer le projet", "Delete project";
    ConfirmDeleteProject => "Supprimer ce projet ? (il reste dans l'historique)", "Delete this project? (it stays in the history)";
    Loading => "Chargement…", "Loading…";
    By => "par", "by";
    Export => "Exporter", "Export";
    Rename => "Renommer", "Rename";
    History => "Historique", "History";
    CreatedBy => "Créé par", "Created by";
    ChangedBy => "modifié en dernier par", "last changed by";
    EnteredBy => "saisi par", "entered by";
    EnterFor => "Saisir pour…", "Enter for…";
    EnterForHint => "Pour une personne ou une table sans appareil : ce que vous ajoutez ensuite lui est attribué, et vous êtes noté·e comme l'ayant saisi.", "For a person or a table without a device: what you add next is credited to them, and you are recorded as having typed it.";
    EnterForName => "Nom (personne ou groupe)", "Name (person or group)";
    EnterForStart => "Commencer la saisie", "Start entering";
    EnteringFor => "Vous saisissez pour", "You are entering for";
    EnterForStop => "Terminer", "Done";
    RepresentedMark => "représenté·e", "represented";
    NoOrganisation => "Sans organisation", "No organisation";
    ErasedPerson => "un·e participant·e", "a participant";
    PrivateRound => "Tour d'écriture privé", "Private writing round";
    PrivateRoundOpen => "Tour d'écriture privé", "Private writing round";
    PrivateRoundHint => "Chacun·e écrit ses idées sans que personne ne les voie, jusqu'à ce que l'animation les révèle : elles entrent alors au tableau, à votre nom.", "Everyone writes their ideas unseen until the facilitator reveals them: they then enter the board, in your name.";
    PrivateRoundViewer => "Un tour d'écriture privé est en cours : les idées apparaîtront à la révélation.", "A private writing round is under way: the ideas will appear when they are revealed.";
    PrivatePlace => "Où", "Where";
    PrivatePlaceholder => "Votre idée…", "Your idea…";
    PrivateAdd => "Ajouter (privé)", "Add (private)";
    PrivateMine => "Mes idées, visibles de moi seul·e", "My ideas, only I can see them";
    PrivateNone => "Aucune idée pour l'instant.", "No idea yet.";
    PrivateWithdraw => "Retirer", "Withdraw";
    PrivateWriters => "Espaces privés ouverts : ", "Private spaces opened: ";
    PrivateReveal => "Révéler les idées", "Reveal the ideas";
    PrivateCancel => "Annuler le tour", "Cancel the round";
    PrivateCancelConfirm => "Annuler le tour ? Les idées privées de chacun·e seront supprimées sans avoir été lues.", "Cancel the round? Everyone's private ideas will be deleted unread.";
    Pseudonyms => "Pseudonymes", "Pseudonyms";
    PseudonymsHint => "Le tableau, les réponses et les exports montrent « Participant·e 3, Commune » au lieu des noms, à tous sauf à l'animation.", "The board, answers and exports show \"Participant 3, Municipality\" instead of names, to everyone but the facilitator.";
    IdeaKept => "Retenue", "Kept";
    FromIdea => "issu de l'idée", "from the idea";
    IdeaSetAside => "Écartée", "Set aside";
    BecameProject => "Projet :", "Project:";
    KeepIdea => "Retenir", "Keep";
    SetAsideIdea => "Écarter", "Set aside";
    SetAsideReason => "Pourquoi écarter cette idée ? (facultatif)", "Why set this idea aside? (optional)";
    ReopenIdea => "Rouvrir", "Reopen";
    ToProject => "En faire un projet…", "Make it a project…";
    PortfolioBoard => "Portefeuille de projets", "Project portfolio";
    PastePortfolioLink => "ou collez le lien d'un portefeuille", "or paste a portfolio's link";
    CreateProject => "Créer le projet", "Create the project";
    NotABoardLink => "Ce lien n'est pas celui d'un tableau.", "This is not a board's link.";
    GroupUnder => "Regrouper sous…", "Group under…";
    Ungroup => "Sortir du groupe", "Take out of the group";
    GroupedIdeas => "idées regroupées", "ideas grouped";
    DidGroup => "a regroupé", "grouped";
    DidUngroup => "a sorti du groupe", "took out of its group";
    DidKeep => "a retenu", "kept";
    DidSetAside => "a écarté", "set aside";
    DidReopen => "a rouvert", "reopened";
    DidProject => "en a fait un projet", "made it a project";
    ColourByAuthor => "Couleurs par auteur", "Colour by author";
    ClickToHighlight => "Cliquer sur une personne ou une organisation pour surligner ses contributions.", "Click a person or an organisation to highlight their contributions.";
    Organisations => "Organisations", "Organisations";
    PeopleCount => "personne(s)", "person(s)";
    Close => "Fermer", "Close";
    ElementStory => "Histoire de l'élément", "Element history";
    ElementStoryHint => "Cliquer sur un nœud, une note ou un projet pour voir qui l'a créé et modifié.", "Click a node, a note or a project to see who created and changed it.";
    DidCreate => "a créé", "created";
    DidEdit => "a modifié", "edited";
    DidDelete => "a supprimé", "deleted";
    DidRestore => "restauré à la demande d'un participant", "restored at a participant's request";
    ClickToClose => "cliquer pour fermer", "click to close";
    ShowHistory => "Historique et retour dans le temps", "History and time travel";
    WorkingSessions => "séance(s) de travail", "working session(s)";
    Changes => "modifications", "changes";
    OlderChanges => "Modifications précédentes", "Earlier changes";
    NewerChanges => "Modifications suivantes", "Later changes";
    LatestChanges => "Les plus récentes", "The latest";
    TimeTravel => "Revoir le tableau tel qu'il était", "See the board as it was";
    PastBoard => "Le tableau à ce moment (lecture seule)", "The board at that moment (read-only)";
    DeletedElements => "Éléments supprimés", "Deleted elements";
    NothingDeleted => "Rien n'a été supprimé.", "Nothing was deleted.";
    Restore => "Restaurer", "Restore";
    Locked => "verrouillé", "locked";
    LockedElement => "Le facilitateur a verrouillé cet élément (ou un élément en dessous).", "The facilitator locked this element (or one below it).";
    Lock => "Verrouiller", "Lock";
    Unlock => "Déverrouiller", "Unlock";
    RenamePrompt => "Nouveau titre du tableau", "New title of the board";
    ExportPdf => "PDF (impression)", "PDF (print)";
    ExportPng => "Image PNG", "PNG image";
    ExportSvg => "Image SVG", "SVG image";
    ExportMd => "Markdown", "Markdown";
    ExportOpml => "OPML (plan)", "OPML (outline)";
    ExportMm => "FreeMind (.mm)", "FreeMind (.mm)";
    ExportCsv => "CSV (tableur)", "CSV (spreadsheet)";
    ExportOdt => "Compte rendu (.odt)", "Meeting report (.odt)";
    ExportRecordPdf => "Trace des contributions (PDF)", "Contribution record (PDF)";
    ExportRecordMd => "Trace des contributions (Markdown)", "Contribution record (Markdown)";
    ExportJson => "Document JSON", "JSON document";
    ExportYjs => "Sauvegarde Yjs (réimportable)", "Yjs backup (re-importable)";
    ImportTitle => "Importer", "Import";
    ImportHint => "Une carte FreeMind (.mm), OPML (.opml) ou Markdown (.md) devient une carte mentale ; une sauvegarde Yjs (.yjs) redevient le tableau qu'elle contient.", "A FreeMind (.mm), OPML (.opml) or Markdown (.md) map becomes a mind map; a Yjs backup (.yjs) becomes the board it holds again.";
    ImportFile => "Fichier", "File";
    ImportButton => "Importer le fichier", "Import the file";
    MoveNoteTo => "Déplacer vers…", "Move to…";
    PresentBoard => "Présenter", "Present";
    StopPresenting => "Quitter la présentation", "Leave the presentation";
    IdeaMenu => "Actions de l'idée", "Idea actions";
    MenuEdit => "Modifier le texte", "Edit the text";
    MenuAddChild => "Ajouter un enfant", "Add a child";
    MenuAddSibling => "Ajouter un voisin", "Add a sibling";
    MenuDelete => "Supprimer", "Delete";
    JoinWithCode => "Rejoindre avec un code", "Join with a code";
    JoinCodeHint => "Le code de 6 caractères affiché par l'animation (à l'écran ou sur le lien reçu).", "The 6-character code the facilitator shows (on screen or in the link you received).";
    JoinCodeField => "Code", "Code";
    JoinButton => "Rejoindre", "Join";
    Joining => "Connexion au tableau…", "Joining the board…";
    JoinCodeRefused => "Ce code est inconnu, a expiré ou a été désactivé. Demandez le code actuel à l'animation.", "This code is unknown, has expired or was turned off. Ask the facilitator for the current code.";
    BackHome => "Retour à l'accueil", "Back to the home page";
    JoinCodeTitle => "Code pour rejoindre", "Join code";
    JoinCodeHow => "Sur un téléphone : scannez le QR code, ou ouvrez l'accueil de Nouage et saisissez le code.", "On a phone: scan the QR code, or open Nouage's home page and type the code.";
    JoinCodeValidUntil => "Valable jusqu'à", "Valid until";
    JoinCodeExpired => "Ce code a expiré : personne ne peut plus rejoindre avec lui.", "This code has expired: nobody can join with it any more.";
    JoinCodeOff => "Pas de code : personne ne peut rejoindre par code.", "No code: nobody can join by code.";
    RenewCode => "Nouveau code", "New code";
    DisableCode => "Désactiver le code", "Turn the code off";
    RevokeCodeAccess => "Retirer l'accès donné par code", "Revoke access given by code";
    Timer => "Minuteur", "Timer";
    TimerMinutes => "Minutes", "Minutes";
    TimerSound => "Son doux à la fin", "Soft sound at the end";
    TimerStart => "Lancer", "Start";
    TimerPause => "Pause", "Pause";
    TimerResume => "Reprendre", "Resume";
    TimerExtend => "+1 min", "+1 min";
    TimerStop => "Arrêter le minuteur", "Stop the timer";
    TimerLeft => "Temps restant", "Time left";
    TimerPaused => "en pause", "paused";
    TimerEnded => "Temps écoulé", "Time is up";
    React => "Réagir", "React";
    ReactionAgree => "D'accord", "Agree";
    ReactionLove => "J'aime", "Love it";
    ReactionQuestion => "Question", "Question";
    ReactionWarning => "Point d'attention", "Watch out";
    ReactionIdea => "Bonne idée", "Good idea";
    Follow => "Suivre", "Follow";
    Unfollow => "Ne plus suivre", "Stop following";
    FollowingWho => "Vous suivez la vue de", "You are following the view of";
    Summon => "Amener tout le monde à ma vue", "Bring everyone to my view";
    ConfirmRevokeCodeAccess => "Déconnecter tous les participants entrés avec un code ? Ils devront rejoindre avec le nouveau code.", "Disconnect everyone who came in with a code? They will have to join with the new code.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_english_differ_where_they_should() {
        assert_eq!(tr(Lang::Fr, Key::Create), "Créer");
        assert_eq!(tr(Lang::En, Key::Create), "Create");
        assert_ne!(
            tr(Lang::Fr, Key::StatusOffline),
            tr(Lang::En, Key::StatusOffline)
        );
    }
}
