//! `wcomp-registry migrate`: copies a whole registry from one configuration to another
//! (typically fs + SQLite to S3 + PostgreSQL): users, API tokens, grants, the token signing
//! key, blobs (each verified by digest on the way), repository links, manifests with their
//! references, tags and the component index.
//!
//! Every step is idempotent (a blob already in the target is skipped, users and links are
//! upserts, grants and tokens are compared first), so a run that was interrupted is simply
//! run again: it resumes. The target records `migrated_from` (the source's `registry_id`);
//! a target that holds anything else is refused unless `force` is set.

use crate::metadata::{ComponentQuery, Metadata};
use crate::storage::BlobStore;
use anyhow::Context as _;

/// Progress, implemented by the CLI (a progress bar); the library never prints.
pub trait Reporter {
    /// A new phase with `total` steps.
    fn phase(&self, name: &str, total: u64);
    fn advance(&self, n: u64);
}

pub struct NoReporter;
impl Reporter for NoReporter {
    fn phase(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

pub struct Options {
    /// Copy into a target that already holds data from elsewhere.
    pub force: bool,
    /// Stop with an error after copying this many blobs (tests of resuming).
    pub stop_after_blobs: Option<u64>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub users: u64,
    pub tokens: u64,
    pub grants: u64,
    pub repositories: u64,
    pub blobs_copied: u64,
    pub blobs_present: u64,
    pub bytes_copied: u64,
    pub manifests: u64,
    pub tags: u64,
    pub components: u64,
}

pub async fn run(
    from: (&dyn Metadata, &BlobStore),
    to: (&dyn Metadata, &BlobStore),
    opts: &Options,
    report: &dyn Reporter,
) -> anyhow::Result<Summary> {
    let ((src, src_blobs), (dst, dst_blobs)) = (from, to);
    let source_id = src
        .shared_setting("registry_id", &uuid::Uuid::new_v4().to_string())
        .await?;
    let marker = dst.get_setting("migrated_from").await?;
    let resuming = marker.as_deref() == Some(source_id.as_str());
    let empty = dst.list_repos(None, 1).await?.is_empty() && dst.count_users().await? == 0;
    if !resuming && !opts.force {
        if let Some(other) = &marker {
            anyhow::bail!(
                "the target was migrated from another registry ({other}); pass --force to copy into it anyway"
            );
        }
        anyhow::ensure!(
            empty,
            "the target is not empty (it has repositories or users); pass --force to copy into it anyway"
        );
    }
    dst.shared_setting("migrated_from", &source_id).await?;
    // Tokens issued by the source stay valid on the target.
    if let Some(key) = src.get_setting("token_key").await? {
        dst.shared_setting("token_key", &key).await?;
    }
    let mut sum = Summary::default();

    let users = src.list_users().await?;
    report.phase("users, tokens, grants", users.len() as u64);
    for u in &users {
        dst.put_user(u).await?;
        sum.users += 1;
        report.advance(1);
    }
    for t in src.list_api_tokens().await? {
        if dst.api_token_user(&t.hash).await?.is_none() {
            dst.put_api_token(&t.user, &t.hash, &t.description, t.created_at)
                .await?;
        }
        sum.tokens += 1;
    }
    let existing = dst.list_grants().await?;
    for g in src.list_grants().await? {
        let same = |e: &&crate::metadata::Grant| {
            e.subject == g.subject && e.pattern == g.pattern && e.actions == g.actions
        };
        if !existing.iter().any(|e| same(&e)) {
            dst.add_grant(&g.subject, &g.pattern, &g.actions).await?;
        }
        sum.grants += 1;
    }

    let mut repos = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let page = src.list_repos(last.as_deref(), 1000).await?;
        let Some(l) = page.last().cloned() else { break };
        repos.extend(page);
        last = Some(l);
    }
    let mut links = Vec::new();
    for r in &repos {
        for (d, size) in src.repo_blob_links(r).await? {
            links.push((r.clone(), d, size));
        }
    }
    report.phase("blobs", links.iter().map(|l| l.2).sum());
    let mut copied = std::collections::HashSet::new();
    for (repo, d, size) in &links {
        if copied.insert(d.clone()) {
            if dst_blobs.size(d).await? == Some(*size) {
                sum.blobs_present += 1;
            } else {
                let body = src_blobs
                    .open(d, None)
                    .await
                    .with_context(|| format!("reading blob {d} from the source"))?;
                let staged = dst_blobs
                    .stage_stream(body, d)
                    .await
                    .with_context(|| format!("copying blob {d}"))?;
                dst.link_blob(repo, d, *size, crate::auth::now()).await?;
                dst_blobs.commit(staged).await?;
                sum.blobs_copied += 1;
                sum.bytes_copied += size;
                if opts.stop_after_blobs == Some(sum.blobs_copied) {
                    anyhow::bail!("stopped after {} blobs, as asked", sum.blobs_copied);
                }
            }
        }
        dst.link_blob(repo, d, *size, crate::auth::now()).await?;
        report.advance(*size);
    }

    report.phase("manifests and tags", repos.len() as u64);
    for r in &repos {
        let manifests = src.export_manifests(r).await?;
        for m in &manifests {
            dst.put_manifest(m.clone(), crate::auth::now())
                .await
                .with_context(|| format!("copying a manifest of {r}"))?;
            sum.manifests += 1;
        }
        let mut last: Option<String> = None;
        loop {
            let tags = src.list_tags(r, last.as_deref(), 1000).await?;
            let Some(l) = tags.last().cloned() else { break };
            for t in &tags {
                if let Some(m) = src.get_manifest_by_tag(r, t).await?
                    && let Some(x) = manifests.iter().find(|x| x.digest == m.digest)
                {
                    let mut x = x.clone();
                    x.tag = Some(t.clone());
                    dst.put_manifest(x, crate::auth::now()).await?;
                    sum.tags += 1;
                }
            }
            last = Some(l);
        }
        sum.repositories += 1;
        report.advance(1);
    }
    let all = ComponentQuery {
        limit: u32::MAX,
        ..Default::default()
    };
    for c in src.search_components(&all).await? {
        dst.put_component(&c).await?;
        sum.components += 1;
    }
    Ok(sum)
}
