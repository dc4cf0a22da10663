import {
  createRouter,
  createWebHistory,
  type RouteComponent,
  type RouteRecordRaw,
  type Router,
} from 'vue-router'
import { CONSOLE_PAGES, HOME_AFTER_LOGIN } from './pages'
import { useSessionStore } from '@/stores/session'
import type { Role } from '@/types/auth'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without a session (login, register). */
    public?: boolean
    /** Least role that may open the page. */
    role?: Role
    title?: string
    description?: string
  }
}

/** The view of each console page (every key of `CONSOLE_PAGES`). */
const VIEWS: Record<string, () => Promise<RouteComponent>> = {
  dashboard: () => import('@/views/DashboardView.vue'),
  positions: () => import('@/views/PositionsView.vue'),
  settings: () => import('@/views/SettingsView.vue'),
  logs: () => import('@/views/LogsView.vue'),
  users: () => import('@/views/UsersView.vue'),
  performance: () => import('@/views/PerformanceView.vue'),
  risk: () => import('@/views/RiskView.vue'),
  queue: () => import('@/views/QueueView.vue'),
}

function viewOf(key: string): () => Promise<RouteComponent> {
  const view = VIEWS[key]
  if (!view) throw new Error(`console page "${key}" has no view`)
  return view
}

const pageRoutes: RouteRecordRaw[] = CONSOLE_PAGES.map((page) => ({
  path: page.path,
  name: page.key,
  component: viewOf(page.key),
  meta: { role: page.role, title: page.title, description: page.description },
}))

export const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/views/LoginView.vue'),
    meta: { public: true, title: 'Sign in' },
  },
  {
    path: '/register',
    name: 'register',
    component: () => import('@/views/RegisterView.vue'),
    meta: { public: true, title: 'Create account' },
  },
  {
    path: '/',
    component: () => import('@/layouts/ConsoleLayout.vue'),
    children: pageRoutes,
  },
  { path: '/:unknown(.*)*', redirect: '/' },
]

/** Sends visitors without a session to /login and keeps pages from roles below theirs. */
export function installGuards(router: Router): void {
  router.beforeEach(async (to) => {
    const session = useSessionStore()
    if (to.meta.public) return session.isAuthenticated ? HOME_AFTER_LOGIN : true
    if (!session.isAuthenticated) {
      return to.fullPath === '/' ? { name: 'login' } : { name: 'login', query: { redirect: to.fullPath } }
    }
    await session.restore()
    if (!session.isAuthenticated) return { name: 'login' }
    if (to.meta.role && !session.can(to.meta.role)) return { name: 'dashboard' }
    return true
  })
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · DCA Engine` : 'DCA Engine'
  })
}

export function createAppRouter(): Router {
  const router = createRouter({ history: createWebHistory(), routes })
  installGuards(router)
  return router
}
