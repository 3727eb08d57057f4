//! The default diagnosis canvas template (DOMAIN.md, from seed 004), in both languages.

use crate::board::Lang;

/// One section of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateSection {
    pub id: &'static str,
    pub title: &'static str,
    pub hint: &'static str,
}

const fn section(id: &'static str, title: &'static str, hint: &'static str) -> TemplateSection {
    TemplateSection { id, title, hint }
}

const SECTIONS_FR: [TemplateSection; 7] = [
    section(
        "s1",
        "Territoire",
        "Différences, liens, discontinuités, interdépendances",
    ),
    section(
        "s2",
        "Usagers",
        "Expériences, usages, besoins, conditions d'existence",
    ),
    section(
        "s3",
        "Dynamiques",
        "Démographiques, économiques, habitat, métropolisation, réseaux",
    ),
    section(
        "s4",
        "Forces vives et ressources",
        "Ressources endogènes et exogènes, dans et hors du territoire",
    ),
    section("s5", "Enjeux partagés", "Co-identification des enjeux"),
    section(
        "s6",
        "Désaccords à expliciter",
        "Les sujets qui fâchent, dits pour être travaillés",
    ),
    section(
        "s7",
        "Orientations et cadre de l'action commune",
        "Quoi, comment, avec quels objectifs",
    ),
];

const SECTIONS_EN: [TemplateSection; 7] = [
    section(
        "s1",
        "Territory",
        "Differences, links, discontinuities, interdependencies",
    ),
    section(
        "s2",
        "Users",
        "Experiences, usages, needs, living conditions",
    ),
    section(
        "s3",
        "Dynamics",
        "Demographic, economic, housing, metropolisation, networks",
    ),
    section(
        "s4",
        "Active forces and resources",
        "Resources from inside and outside the territory",
    ),
    section("s5", "Shared stakes", "Identifying the stakes together"),
    section(
        "s6",
        "Disagreements to make explicit",
        "The subjects that anger, named so they can be worked on",
    ),
    section(
        "s7",
        "Orientations and frame of the common action",
        "What, how, with which objectives",
    ),
];

/// The sections a new diagnosis canvas starts with, in the board's language.
pub fn diagnosis_sections(lang: Lang) -> &'static [TemplateSection] {
    match lang {
        Lang::Fr => &SECTIONS_FR,
        Lang::En => &SECTIONS_EN,
    }
}
