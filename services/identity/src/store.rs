//! Client accounts: the secret is kept only as an Argon2id hash.

use chrono::Utc;
use portal_common::Role;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait as _};

use crate::error::Error;

pub mod client {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        pub display_name: String,
        pub secret_hash: String,
        /// Roles separated by single spaces.
        pub roles: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A client account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub display_name: String,
    pub secret_hash: String,
    pub roles: Vec<Role>,
}

impl From<client::Model> for Client {
    fn from(model: client::Model) -> Self {
        Self {
            client_id: model.client_id,
            display_name: model.display_name,
            secret_hash: model.secret_hash,
            roles: model
                .roles
                .split_whitespace()
                .filter_map(Role::parse)
                .collect(),
        }
    }
}

/// Roles as the `roles` column keeps them: names separated by single spaces.
fn roles_column(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an update changes of a client; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ClientChange<'a> {
    pub display_name: Option<&'a str>,
    pub roles: Option<&'a [Role]>,
    pub secret_hash: Option<String>,
}

/// A client account to create or replace.
pub struct NewClient<'a> {
    pub client_id: &'a str,
    pub display_name: &'a str,
    pub secret_hash: String,
    pub roles: &'a [Role],
}

impl NewClient<'_> {
    fn model(&self) -> client::ActiveModel {
        let now = Utc::now();
        client::ActiveModel {
            client_id: Set(self.client_id.to_owned()),
            display_name: Set(self.display_name.to_owned()),
            secret_hash: Set(self.secret_hash.clone()),
            roles: Set(roles_column(self.roles)),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    #[tracing::instrument(name = "store", skip_all, fields(op = "client"))]
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, Error> {
        Ok(client::Entity::find_by_id(client_id.to_owned())
            .one(&self.db)
            .await?
            .map(Client::from))
    }

    /// Changes a client; the client as it now stands, `None` when there is no such client.
    /// One statement: the row is changed whole or not at all.
    #[tracing::instrument(name = "store", skip_all, fields(op = "update_client"))]
    pub async fn update_client(
        &self,
        client_id: &str,
        change: ClientChange<'_>,
    ) -> Result<Option<Client>, Error> {
        use sea_orm::ActiveValue::NotSet;
        let model = client::ActiveModel {
            client_id: sea_orm::ActiveValue::Unchanged(client_id.to_owned()),
            display_name: change
                .display_name
                .map_or(NotSet, |name| Set(name.to_owned())),
            secret_hash: change.secret_hash.map_or(NotSet, Set),
            roles: change
                .roles
                .map_or(NotSet, |roles| Set(roles_column(roles))),
            created_at: NotSet,
            updated_at: Set(Utc::now()),
        };
        match client::Entity::update(model).exec(&self.db).await {
            Ok(model) => Ok(Some(model.into())),
            Err(sea_orm::DbErr::RecordNotUpdated) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a client; false when there was none.
    #[tracing::instrument(name = "store", skip_all, fields(op = "delete_client"))]
    pub async fn delete_client(&self, client_id: &str) -> Result<bool, Error> {
        let deleted = client::Entity::delete_by_id(client_id.to_owned())
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }

    /// The display names of clients, by id; unknown ids are left out.
    #[tracing::instrument(name = "store", skip_all, fields(op = "display_names"))]
    pub async fn display_names(
        &self,
        client_ids: &[String],
    ) -> Result<std::collections::HashMap<String, String>, Error> {
        use sea_orm::{ColumnTrait as _, QueryFilter as _};
        Ok(client::Entity::find()
            .filter(client::Column::ClientId.is_in(client_ids.iter().cloned()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| (c.client_id, c.display_name))
            .collect())
    }

    /// Inserts a client; false when the id is taken.
    #[tracing::instrument(name = "store", skip_all, fields(op = "insert_client"))]
    pub async fn insert_client(&self, new: &NewClient<'_>) -> Result<bool, Error> {
        let inserted = client::Entity::insert(new.model())
            .on_conflict(
                OnConflict::column(client::Column::ClientId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(inserted == 1)
    }

    /// Inserts a client or replaces its secret, roles and name (the `admin` bootstrap).
    #[tracing::instrument(name = "store", skip_all, fields(op = "upsert_client"))]
    pub async fn upsert_client(&self, new: &NewClient<'_>) -> Result<(), Error> {
        client::Entity::insert(new.model())
            .on_conflict(
                OnConflict::column(client::Column::ClientId)
                    .update_columns([
                        client::Column::DisplayName,
                        client::Column::SecretHash,
                        client::Column::Roles,
                        client::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }
}
