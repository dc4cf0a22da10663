import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { setClientHooks } from './api/client'
import { reconnectRealtime } from './realtime/socket'
import { createAppRouter } from './router'
import { useSessionStore } from './stores/session'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
const router = createAppRouter()
app.use(router)

setClientHooks({
  onSessionExpired: () => {
    useSessionStore(pinia).clear()
    void router.push({ name: 'login' })
  },
  onAccessRenewed: reconnectRealtime,
})

app.mount('#app')
